"""Tenant scoping for the admin: a user sees and edits only their projects' rows.

Every admin page of a tenant-owned model goes through these mixins: the
querysets (so change, delete and history views of another project's id
answer "does not exist"), the foreign-key choices, the sidebar filters (no
other tenant's names leak through a filter's choices) and the save itself.
Superusers see everything.
"""

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import ForeignKey, ManyToManyField, OneToOneField

from .services import projects_of


def is_member(request):
    """Whether the user is staff with a membership; asked once per request, as every
    admin of the sidebar asks it several times per page."""
    cached = getattr(request, "_picky_is_member", None)
    if cached is None:
        user = request.user
        cached = user.is_active and user.is_staff and projects_of(user).exists()
        request._picky_is_member = cached
    return cached


class ProjectScopedAdminMixin:
    """Scope a ModelAdmin to the projects the user is a member of.

    `project_path` is the lookup from the model to its Project ("project",
    "step__connector__project", ...). Members (staff users with a membership)
    get full rights on their projects' rows without per-model permissions:
    the project is the unit of access.
    """

    project_path = "project"

    def user_projects(self, request):
        return projects_of(request.user)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.project_path}__in": self.user_projects(request)})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return scope_formfield(field, request)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        return scope_formfield(field, request)

    def get_list_filter(self, request):
        list_filter = super().get_list_filter(request)
        if request.user.is_superuser:
            return list_filter
        return [scoped_list_filter(self.model, entry) for entry in list_filter]

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            project = resolve_project(obj, self.project_path)
            if project is None or not self.user_projects(request).filter(pk=project.pk).exists():
                raise PermissionDenied("That row belongs to a project you are not a member of.")
        super().save_model(request, obj, form, change)

    def has_module_permission(self, request):
        return request.user.is_superuser or is_member(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or is_member(request)

    def has_add_permission(self, request, *args):
        return request.user.is_superuser or is_member(request)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser or is_member(request)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser or is_member(request)


class ProjectScopedInlineMixin:
    """The same rules for an inline: the parent row is already scoped, the
    inline's own foreign-key choices are scoped here."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return scope_formfield(field, request)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        return scope_formfield(field, request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or is_member(request)

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser or is_member(request)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser or is_member(request)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser or is_member(request)


def scope_formfield(field, request):
    if field is not None and not request.user.is_superuser and hasattr(field, "queryset"):
        field.queryset = scope_queryset(field.queryset, projects_of(request.user))
    return field


class ProjectScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A relation filter listing only related rows of the user's projects.

    Cheaper than RelatedOnlyFieldListFilter, which scans the whole listed table
    for distinct values: here the choices come from the small related table.
    """

    def field_choices(self, field, request, model_admin):
        related = field.related_model._default_manager.all()
        allowed = scope_queryset(related, projects_of(request.user)).values("pk")
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


def resolve_project(obj, project_path):
    target = obj
    for part in project_path.split("__"):
        target = getattr(target, part, None)
        if target is None:
            return None
    return target


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
