"""Tenant scoping for the admin: a user sees and edits only their projects' rows."""

from django.core.exceptions import PermissionDenied

from .services import projects_of


class ProjectScopedAdminMixin:
    """Scope a ModelAdmin to the projects the user is a member of.

    `project_path` is the lookup from the model to its Project ("project",
    "step__connector__project", ...). Superusers see everything. Members
    (staff users with a membership) get full rights on their projects' rows
    without per-model permissions: the project is the unit of access.
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
        if field is not None and not request.user.is_superuser:
            field.queryset = scope_queryset(field.queryset, self.user_projects(request))
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and not request.user.is_superuser:
            field.queryset = scope_queryset(field.queryset, self.user_projects(request))
        return field

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            allowed = self.user_projects(request)
            project = resolve_project(obj, self.project_path)
            if project is None or not allowed.filter(pk=project.pk).exists():
                raise PermissionDenied("That row belongs to a project you are not a member of.")
        super().save_model(request, obj, form, change)

    def _is_member(self, request):
        user = request.user
        return user.is_active and user.is_staff and self.user_projects(request).exists()

    def has_module_permission(self, request):
        return request.user.is_superuser or self._is_member(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or self._is_member(request)

    def has_add_permission(self, request, *args):
        return request.user.is_superuser or self._is_member(request)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser or self._is_member(request)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser or self._is_member(request)


def resolve_project(obj, project_path):
    target = obj
    for part in project_path.split("__"):
        target = getattr(target, part, None)
        if target is None:
            return None
    return target


def scope_queryset(queryset, projects):
    """Limit a queryset of any tenant-owned model to `projects`."""
    model = queryset.model
    if model._meta.label == "picky.Project":
        return queryset.filter(pk__in=projects)
    path = getattr(model, "project_path", None) or (
        "project" if any(f.name == "project" for f in model._meta.fields) else None
    )
    if path is None:
        return queryset
    return queryset.filter(**{f"{path}__in": projects})
