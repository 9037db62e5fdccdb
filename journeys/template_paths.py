"""What the journeys' message templates read, for the attribute picker on their admin
pages: sequence messages and smart replies are rendered with the contact only
(sequences/sweep.py `message_for`, replies/services.py), a flow's texts with the contact,
the answer and the flow's name (flows/services.py `context`)."""

from crm.template_paths import contact_group
from picky.attribute_picker import AttributePickerAdminMixin
from picky.paths import path_node
from picky.tenancy import EDIT

FLOW_GROUP = {
    "label": "The flow",
    "nodes": [
        path_node("answer", "answer", "the contact's latest answer"),
        path_node("flow.name", "flow.name", "this flow's name"),
    ],
}


class ContactTemplatesAdminMixin(AttributePickerAdminMixin):
    """A journeys page whose templates read `contact` (and `extra_picker_groups`): the
    contact's attribute keys are those of the page's project, or on an add page those of
    the projects the user edits here."""

    extra_picker_groups = ()

    def picker_groups(self, request, obj):
        if obj is not None and obj.project_id:
            projects = [obj.project_id]
        else:
            projects = self.user_projects(request, EDIT)
        return [contact_group(projects), *self.extra_picker_groups]
