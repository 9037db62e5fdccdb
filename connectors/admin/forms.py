"""Admin forms of connectors and steps: JSON editors validated with the same
rules as the connector JSON import, so whatever the admin saves exports and
imports back."""

import json

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import escape

from actions.types.fields import RowsInput
from crm.models import MacroButton, Module
from picky.json_input import JSONInputError, JSONInputField, parse_json
from picky.models import Project
from teambox.models import WhatsAppGroup

from .. import transfer
from ..filters import NO_VALUE_OPS, OPERATOR_WORDS, TWO_VALUE_OPS, filter_errors
from ..group_triggers import GROUP_PAYLOAD_HELP
from ..macro_triggers import MACRO_PAYLOAD_HELP
from ..mail_fields import WHERE, cleaned_rule, mail_fields_errors
from ..models import Connector, Step
from ..triggers import MESSAGE_PAYLOAD_HELP, RECORD_PAYLOAD_HELP


class JSONEditor(forms.Textarea):
    """A monospace textarea, pretty-printed, checked as you type (picky/json-editor.js)."""

    def __init__(self, attrs=None, rows=8):
        super().__init__(
            attrs={"class": "picky-json", "rows": rows, "spellcheck": "false", **(attrs or {})}
        )

    class Media:
        js = ["picky/json-editor.js"]


class BuilderEditor(JSONEditor):
    """A JSON editor that picky/builder.js shows as a form (`builder`: filters, delay,
    iterator or mapping), with an "Edit as JSON" toggle; the JSON stays the submitted
    value, read and checked as the typed JSON is."""

    def __init__(self, builder, attrs=None, rows=8):
        super().__init__(attrs={"data-picky-builder": builder, **(attrs or {})}, rows=rows)

    class Media:
        css = {"all": ["picky/builder.css"]}
        js = ["picky/attribute-picker.js", "picky/builder.js"]


class JSONText(JSONInputField):
    """JSON typed as text, read by the JSON sanitiser: a syntax error says where (line
    and column), and so does what the database cannot store."""

    widget = JSONEditor

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class TriggerSelect(forms.Select):
    """The trigger's choice; beside it, only the setting it takes shows
    (picky/trigger-fields.js)."""

    def __init__(self, attrs=None, choices=()):
        super().__init__(attrs={"data-picky-trigger": "", **(attrs or {})}, choices=choices)

    class Media:
        js = ["picky/trigger-fields.js"]


# The object each trigger names, by its connector field (the URL names none; a message
# trigger's channel is optional: any channel).
TRIGGER_OBJECTS = {
    Connector.Trigger.INBOUND_MESSAGE: "trigger_channel",
    Connector.Trigger.RECORD_CREATED: "trigger_module",
    Connector.Trigger.RECORD_UPDATED: "trigger_module",
    Connector.Trigger.RECORD_DELETED: "trigger_module",
    Connector.Trigger.MACRO_BUTTON: "trigger_macro",
    Connector.Trigger.GROUP_JOINED: "trigger_group",
    Connector.Trigger.GROUP_LEFT: "trigger_group",
}
TRIGGER_OBJECT_PROJECT = {
    "trigger_channel": "project_id",
    "trigger_module": "project_id",
    "trigger_macro": "module__project_id",
    "trigger_group": "channel__project_id",
}
TRIGGER_OBJECT_REQUIRED = {
    "trigger_module": "Choose the module whose records start the connector.",
    "trigger_macro": "Choose the macro button whose submissions start the connector.",
    "trigger_group": "Choose the WhatsApp group whose members start the connector.",
}


def project_of(trigger_object):
    """The id of the project a channel, module or macro button belongs to."""
    if isinstance(trigger_object, MacroButton):
        return trigger_object.module.project_id
    if isinstance(trigger_object, WhatsAppGroup):
        return trigger_object.channel.project_id
    return trigger_object.project_id


def add_path_errors(form, field, errors):
    """Attach (json_path, message) pairs to a form field, each saying where it applies."""
    for path, message in errors:
        form.add_error(field, f"{path}: {message}")


FIELD_MAPPING_HELP = (
    "The contact each event makes or updates: its WhatsApp number, name, e-mail and "
    "attributes, each a template ({ } inserts a field of the sample). Leave them all empty "
    "to create no contact (or, started by a message, to make its sender the contact). "
    'As JSON: {"number": "{{ event.phone }}", "name": "{{ event.name }}", '
    '"email": "{{ event.email }}", "attributes": {"state": "{{ event.state }}"}}.'
)


TRIGGER_HELP = (
    "The connector's URL always starts it. With “A message arrives”, every message a "
    "contact sends on the channel below starts it too (the replies it sends do not). "
    + MESSAGE_PAYLOAD_HELP
    + " With “A record is created” (updated, deleted), every such change of a record of "
    "the module below starts it, but a change made by an action with “Don't trigger "
    "workflows” ticked. "
    + RECORD_PAYLOAD_HELP
    + " With “An agent submits a macro button”, every submission of the macro button below "
    "(sent to agents by a Trigger Macro action) starts it. "
    + MACRO_PAYLOAD_HELP
    + " With “A member joins (leaves) a WhatsApp group”, every number that joins (leaves) "
    "the group below or one of its child groups starts it. " + GROUP_PAYLOAD_HELP
)


MAIL_FIELDS_HELP = (
    "Fields taken out of each inbound mail, read as {{ event.fields.<name> }}: a rule's "
    "pattern (a regular expression, RE2 syntax) is matched in the subject, the text body, "
    "the HTML body as text or the sender's address; its group (?P<value>...), else its "
    "first group, else the whole match is the value. “Every match” gives a list. A rule that "
    "matches nothing gives an empty text; the mail is kept either way. The other mail "
    "fields: event.from, from_name, to, subject, text, html, headers, attachments."
)


class MailFieldsField(forms.Field):
    """The parsing template's rules: a list of {"name", "where", "pattern", "all"}
    (connectors/mail_fields.py), each row's problems named at its row ("Field 2: ...")."""

    def to_python(self, value):
        if value in (None, ""):
            return []
        if isinstance(value, str):
            raise ValidationError("Give the rules as rows (or a JSON list of rules).")
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            raise ValidationError("Give the rules as rows (or a JSON list of rules).")
        return [cleaned_rule(rule) for rule in value]

    def validate(self, value):
        super().validate(value)
        problems = [
            message if index is None else f"Field {index + 1}: {message}"
            for index, message in mail_fields_errors(value)
        ]
        if problems:
            raise ValidationError(problems)


class ConnectorForm(forms.ModelForm):
    # Not required: as in the connector JSON, no trigger means the URL only.
    trigger = forms.ChoiceField(
        choices=Connector.Trigger.choices,
        required=False,
        label="Started by",
        # Escaped: the admin shows help texts as HTML, and the payloads' help names <field>s.
        help_text=escape(TRIGGER_HELP),
        widget=TriggerSelect,
    )
    field_mapping = JSONText(help_text=FIELD_MAPPING_HELP, widget=BuilderEditor("mapping"))
    mail_fields = MailFieldsField(
        required=False,
        label="Parsing template",
        # Escaped: the admin shows help texts as HTML, and this one names <name>.
        help_text=escape(MAIL_FIELDS_HELP),
        widget=RowsInput(
            "list",
            item="fields",
            noun="Field",
            fields=(
                {"key": "name", "label": "Field name", "placeholder": "order"},
                {"key": "where", "label": "Look in", "choices": list(WHERE.items())},
                {"key": "pattern", "label": "Pattern", "placeholder": r"Order #(\S+)"},
                {
                    "key": "all",
                    "label": "Matches",
                    "choices": [["", "the first"], ["true", "every match (a list)"]],
                },
            ),
        ),
    )

    class Meta:
        model = Connector
        fields = [
            "project", "name", "description", "enabled", "trigger", "trigger_channel",
            "trigger_module", "trigger_macro", "trigger_group", "field_mapping", "mail_fields",
        ]  # fmt: skip
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        labels = {
            "trigger_channel": "Channel",
            "trigger_module": "Module",
            "trigger_macro": "Macro button",
            "trigger_group": "WhatsApp group",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        channel = self.fields.get("trigger_channel")
        if channel is not None:
            channel.empty_label = "Any channel of the project"
        module = self.fields.get("trigger_module")
        if module is not None:
            module.queryset = module.queryset.filter(kind=Module.Kind.MODULE)
        button = self.fields.get("trigger_macro")
        if button is not None:
            button.queryset = button.queryset.select_related("module")
            button.label_from_instance = lambda button: f"{button.module} › {button}"
        group = self.fields.get("trigger_group")
        if group is not None:
            group.queryset = group.queryset.filter(parent__isnull=True).select_related("channel")
            group.label_from_instance = lambda group: f"{group.channel} › {group}"
        if self.instance.pk:
            # A connector never moves: only its own project's channels, modules and buttons.
            project_id = self.instance.project_id
            for name, lookup in TRIGGER_OBJECT_PROJECT.items():
                if name in self.fields:
                    queryset = self.fields[name].queryset
                    self.fields[name].queryset = queryset.filter(**{lookup: project_id})

    def clean_trigger(self):
        return self.cleaned_data.get("trigger") or Connector.Trigger.WEBHOOK

    def clean(self):
        cleaned = super().clean()
        trigger = cleaned.get("trigger")
        takes = TRIGGER_OBJECTS.get(trigger)
        for name in TRIGGER_OBJECT_PROJECT:
            if name != takes:
                cleaned[name] = None
        if takes is None:
            return cleaned
        chosen = cleaned.get(takes)
        if chosen is None and takes != "trigger_channel":
            self.add_error(takes, TRIGGER_OBJECT_REQUIRED[takes])
            return cleaned
        project = cleaned.get("project") or (self.instance.project if self.instance.pk else None)
        if chosen is not None and project is not None and project_of(chosen) != project.pk:
            self.add_error(
                takes,
                f"“{chosen}” belongs to another project; pick one of {project}.",
            )
        return cleaned

    def clean_field_mapping(self):
        mapping = self.cleaned_data.get("field_mapping")
        if mapping is None:
            return {}
        add_path_errors(self, "field_mapping", transfer.field_mapping_errors(mapping))
        return mapping


FILTERS_HELP = (
    "The step runs when ANY group holds; a group holds when ALL its conditions hold; with "
    'no condition it always runs. As JSON: [[{"field": "{{ event.state }}", "op": "equals", '
    '"value": "Kerala"}]], or [].'
)
ITERATOR_HELP = (
    "Run the actions once per item of a list; inside, {{ item }} and {{ index }} are the "
    'current item. As JSON: {"path": "event.items", "max": 500}, or null for once.'
)
DELAY_HELP = (
    "Wait before the step; the identifier names the wait for Cancel Delay. As JSON: "
    '{"mode": "fixed", "amount": 2, "unit": "hours"} or {"mode": "relative", "field": '
    '"{{ event.start }}", "offset": -2, "unit": "hours", "if_past": "skip"}, or null.'
)


class StepForm(forms.ModelForm):
    filters = JSONText(
        help_text=FILTERS_HELP,
        widget=BuilderEditor(
            "filters",
            attrs={
                "data-picky-operators": json.dumps(
                    {
                        "words": OPERATOR_WORDS,
                        "no_value": sorted(NO_VALUE_OPS),
                        "two_values": sorted(TWO_VALUE_OPS),
                    }
                )
            },
        ),
    )
    iterator = JSONText(help_text=ITERATOR_HELP, widget=BuilderEditor("iterator", rows=3))
    delay = JSONText(help_text=DELAY_HELP, widget=BuilderEditor("delay", rows=4))

    class Meta:
        model = Step
        fields = ["connector", "name", "filters", "iterator", "delay"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        connector_id = str(self.instance.connector_id or self.initial.get("connector") or "")
        if connector_id.isdigit():
            # The delay form asks the engine's planner what the delay does for the sample.
            self.fields["delay"].widget.attrs["data-picky-preview"] = reverse(
                "admin:connectors_connector_delay_preview", args=[connector_id]
            )

    def clean_filters(self):
        filters = self.cleaned_data.get("filters")
        if filters is None:
            return []
        add_path_errors(self, "filters", filter_errors(filters))
        return filters

    def clean_iterator(self):
        iterator = self.cleaned_data.get("iterator")
        add_path_errors(self, "iterator", transfer.iterator_errors(iterator, "iterator"))
        return iterator

    def clean_delay(self):
        delay = self.cleaned_data.get("delay")
        add_path_errors(self, "delay", transfer.step_delay_errors(delay, "delay"))
        return delay


class SimulateForm(forms.Form):
    payload = JSONText(
        required=True,
        label="Payload",
        widget=JSONEditor(rows=14),
        help_text="The event to simulate; starts as the connector's sample payload.",
    )
    send_safe_requests = forms.BooleanField(
        required=False,
        label="Run safe requests for real",
        help_text="Send the HTTP requests whose method is GET or HEAD (they only read) and "
        "show their real answer; every other request, message and e-mail is not sent.",
    )


class ImportForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.none())
    file = forms.FileField(required=False, help_text="A .json file exported from Picky.")
    document = forms.CharField(
        required=False,
        label="Or paste the JSON",
        widget=forms.Textarea(attrs={"class": "picky-json", "rows": 12, "spellcheck": "false"}),
    )
    name = forms.CharField(
        required=False,
        max_length=Connector._meta.get_field("name").max_length,
        help_text="Import under this name instead of the one in the file.",
    )

    def __init__(self, *args, projects, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = projects
        if len(projects) == 1:
            self.fields["project"].initial = projects[0]

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        text = cleaned.get("document", "")
        if upload and text.strip():
            raise ValidationError("Give either a file or pasted JSON, not both.")
        if upload:
            text = upload.read()
        if not text.strip():
            raise ValidationError("Choose a file or paste the connector JSON.")
        try:
            cleaned["data"] = parse_json(text)
        except JSONInputError as exc:
            raise ValidationError(exc.message, code=exc.code) from exc
        return cleaned
