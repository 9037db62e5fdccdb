"""Tenant scoping and project roles for the admin.

A user sees and edits only their projects' rows, and in each project only the sections
their role opens (SECTION_ACCESS). Every admin page of a tenant-owned model goes through
these mixins: the querysets (so change, delete and history views of another project's id
answer "does not exist"), the permissions (a section the role does not open answers 403
and is not in the index), the foreign-key choices, the sidebar filters (no other tenant's
names leak through a filter's choices) and the save itself. Superusers see everything.
"""

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import ForeignKey, ManyToManyField, OneToOneField
from django.http import Http404

from .json_input import JSONInputAdminMixin
from .models import Membership, Project

VIEW, EDIT = "view", "edit"
Role = Membership.Role
# Owners and admins build connectors and manage channels, tokens and members.
MANAGERS = {Role.OWNER: EDIT, Role.ADMIN: EDIT}
# Agents read contacts and messages (until the teambox pages exist).
MANAGERS_AND_READING_AGENTS = {**MANAGERS, Role.AGENT: VIEW}
# Every member reads what is theirs alone (their notifications: the admin shows each user
# their own rows).
EVERY_MEMBER_READS = {Role.OWNER: VIEW, Role.ADMIN: VIEW, Role.AGENT: VIEW}

# What each project role may do in each admin section (a model's label): VIEW, or EDIT
# (view, add, change and delete, as far as the section's admin allows them). A role not
# named gets nothing, and a section not listed is for superusers only. An inline follows
# the section of the page it is on (a contact's notes are the contact's).
SECTION_ACCESS = {
    "picky.project": MANAGERS,  # the settings and the members
    "picky.apitoken": MANAGERS,
    "picky.alertstate": MANAGERS,
    "picky.globalvariable": MANAGERS,
    "connectors.connector": MANAGERS,
    "connectors.step": MANAGERS,
    "connectors.event": MANAGERS,
    "connectors.run": MANAGERS,
    "connectors.scheduledstep": MANAGERS,
    "actions.action": MANAGERS,  # with the Test, mapping, log and alert pages of HTTP actions
    "actions.httprequestlog": MANAGERS,
    "crm.contact": MANAGERS_AND_READING_AGENTS,
    "crm.tag": MANAGERS,
    "crm.category": MANAGERS,
    "crm.optoutlist": MANAGERS,
    "crm.reminder": MANAGERS,
    # Modules (with their fields, macro buttons and funnels), records (with their timeline
    # and funnel stages) and funnels (with their stages and board): managers here; agents
    # reach the records of a module through the teambox pages, as its agent_access allows.
    "crm.module": MANAGERS,
    "crm.record": MANAGERS,
    "crm.funnel": MANAGERS,
    "teambox.channel": MANAGERS,
    "teambox.inbounddelivery": MANAGERS,
    "teambox.message": MANAGERS_AND_READING_AGENTS,
    "teambox.broadcast": MANAGERS,
    "teambox.department": MANAGERS,
    "teambox.agent": MANAGERS,
    "teambox.routingrule": MANAGERS,
    "teambox.conversation": MANAGERS_AND_READING_AGENTS,
    "teambox.notification": EVERY_MEMBER_READS,
    "teambox.whatsappgroup": MANAGERS,
    "webhooks.webhooksettings": MANAGERS,
    "webhooks.delivery": MANAGERS,
    "journeys.sequence": MANAGERS,
    "journeys.subscription": MANAGERS,
    "journeys.delivery": MANAGERS,
    "journeys.flow": MANAGERS,
    "journeys.flowsession": MANAGERS,
    "journeys.smartreply": MANAGERS,
}


def roles_of(request):
    """{project id: role} of the user's memberships; read once per request, as the
    sidebar asks every section's permissions on each page."""
    roles = getattr(request, "_picky_roles", None)
    if roles is None:
        user = request.user
        roles = {}
        if user.is_active and user.is_staff:
            roles = dict(Membership.objects.filter(user=user).values_list("project_id", "role"))
        request._picky_roles = roles
    return roles


def project_ids(request, section, access):
    """Ids of the user's projects where their role gives `access` (VIEW or EDIT) to
    `section`; EDIT includes VIEW."""
    granted = SECTION_ACCESS.get(section, {})
    return [
        project_id
        for project_id, role in roles_of(request).items()
        if granted.get(role) in (access, EDIT)
    ]


def has_access(request, section, access, project_id=None):
    """Whether the user has `access` to `section` in the project `project_id`, or in any
    of their projects when it is None."""
    if request.user.is_superuser:
        return True
    allowed = project_ids(request, section, access)
    return bool(allowed) if project_id is None else project_id in allowed


def projects_with_access(request, section, access):
    if request.user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(pk__in=project_ids(request, section, access))


def section_of(model):
    return model._meta.label_lower


class ProjectScopedAdminMixin(JSONInputAdminMixin):
    """Scope a ModelAdmin to the projects the user is a member of, and to what their role
    may do in this section there.

    `project_path` is the lookup from the model to its Project ("project",
    "step__connector__project", ...; "pk" for Project itself). The project is the unit
    of access: no per-model permissions are needed.
    """

    project_path = "project"

    @property
    def section(self):
        return section_of(self.model)

    def user_projects(self, request, access=VIEW):
        return projects_with_access(request, self.section, access)

    def has_section_access(self, request, access, obj=None):
        project_id = None if obj is None else project_id_of(obj, self.project_path)
        return has_access(request, self.section, access, project_id)

    def scoped(self, queryset, request, access):
        """`queryset` limited to the projects where the user has `access` here."""
        if request.user.is_superuser:
            return queryset
        allowed = project_ids(request, self.section, access)
        return queryset.filter(**{f"{self.project_path}__in": allowed})

    def get_queryset(self, request):
        return self.scoped(super().get_queryset(request), request, VIEW)

    def scoped_object(self, request, object_id, access=VIEW):
        """The row `object_id` for a page of this section: 403 when the user's role gives
        `access` to the section in none of their projects, 404 when the row is not in a
        project where it does."""
        if not self.has_section_access(request, access):
            raise PermissionDenied
        found = self.scoped(self.get_queryset(request), request, access).filter(pk=object_id)
        found = found.first()
        if found is None:
            raise Http404(f"No such {self.opts.verbose_name} in your projects.")
        return found

    def get_actions(self, request):
        # Actions change rows: none for a user who may only read this section...
        if not self.has_section_access(request, EDIT):
            return {}
        return super().get_actions(request)

    def response_action(self, request, queryset):
        # ... and they touch only rows of the projects where the user may change them.
        return super().response_action(request, self.scoped(queryset, request, EDIT))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return scope_formfield(field, request, self.section)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        return scope_formfield(field, request, self.section)

    def get_list_filter(self, request):
        list_filter = super().get_list_filter(request)
        if request.user.is_superuser:
            return list_filter
        return [scoped_list_filter(self.model, entry) for entry in list_filter]

    def save_model(self, request, obj, form, change):
        allowed = project_ids(request, self.section, EDIT)
        if not request.user.is_superuser and project_id_of(obj, self.project_path) not in allowed:
            raise PermissionDenied("That row belongs to a project where you may not change it.")
        super().save_model(request, obj, form, change)

    def has_module_permission(self, request):
        return self.has_section_access(request, VIEW)

    def has_view_permission(self, request, obj=None):
        return self.has_section_access(request, VIEW, obj)

    def has_add_permission(self, request, *args):
        return self.has_section_access(request, EDIT)

    def has_change_permission(self, request, obj=None):
        return self.has_section_access(request, EDIT, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_section_access(request, EDIT, obj)


class ProjectScopedInlineMixin(JSONInputAdminMixin):
    """The same rules for an inline, which follows the section of its page: the parent
    row is already scoped, the inline's own foreign-key choices are scoped here."""

    @property
    def section(self):
        return section_of(self.parent_model)

    def user_projects(self, request, access=VIEW):
        return projects_with_access(request, self.section, access)

    def has_section_access(self, request, access, obj=None):
        # `obj` is the page's row (None on an add page).
        project_id = None
        if obj is not None and obj.pk is not None:
            project_id = project_id_of(obj, project_lookup(self.parent_model))
        return has_access(request, self.section, access, project_id)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return scope_formfield(field, request, self.section)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        return scope_formfield(field, request, self.section)

    def has_view_permission(self, request, obj=None):
        return self.has_section_access(request, VIEW, obj)

    def has_add_permission(self, request, obj=None):
        return self.has_section_access(request, EDIT, obj)

    def has_change_permission(self, request, obj=None):
        return self.has_section_access(request, EDIT, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_section_access(request, EDIT, obj)


def scope_formfield(field, request, section):
    """Choices of rows in the projects where the user may edit `section`."""
    if field is not None and not request.user.is_superuser and hasattr(field, "queryset"):
        field.queryset = scope_queryset(field.queryset, project_ids(request, section, EDIT))
    return field


class ProjectScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A relation filter listing only related rows of the user's projects.

    Cheaper than RelatedOnlyFieldListFilter, which scans the whole listed table
    for distinct values: here the choices come from the small related table.
    """

    def field_choices(self, field, request, model_admin):
        related = field.related_model._default_manager.all()
        allowed = scope_queryset(related, model_admin.user_projects(request)).values("pk")
        return field.get_choices(
            include_blank=False,
            limit_choices_to={"pk__in": allowed},
            ordering=self.field_admin_ordering(field, request, model_admin),
        )


def scoped_list_filter(model, entry):
    """A relation filter lists only related rows of the user's projects."""
    if not isinstance(entry, str) or "__" in entry:
        return entry
    try:
        field = model._meta.get_field(entry)
    except FieldDoesNotExist:
        return entry
    if not isinstance(field, (ForeignKey, OneToOneField, ManyToManyField)):
        return entry
    if project_lookup(field.related_model) is None:
        # Not tenant-owned (users, ...): list only what the user's rows point to.
        return (entry, admin.RelatedOnlyFieldListFilter)
    return (entry, ProjectScopedRelatedFilter)


def project_id_of(obj, project_path):
    """The id of `obj`'s project along `project_path` (None while it has none)."""
    if project_path == "pk":
        return obj.pk
    *hops, last = project_path.split("__")
    target = obj
    for hop in hops:
        target = getattr(target, hop, None)
        if target is None:
            return None
    return getattr(target, f"{last}_id", None)


def project_lookup(model):
    """The lookup from `model` to its Project ("pk" for Project), or None."""
    if model._meta.label == "picky.Project":
        return "pk"
    return getattr(model, "project_path", None) or (
        "project" if any(f.name == "project" for f in model._meta.fields) else None
    )


def scope_queryset(queryset, projects):
    """Limit a queryset of any tenant-owned model to `projects`."""
    path = project_lookup(queryset.model)
    if path is None:
        return queryset
    return queryset.filter(**{f"{path}__in": projects})
