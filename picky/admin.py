from django.contrib import admin

from .models import ApiToken, Membership, Project
from .services import projects_of
from .tenancy import ProjectScopedAdminMixin


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "time_zone", "alert_email", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return projects_of(request.user)

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        admin.ModelAdmin.save_model(self, request, obj, form, change)


@admin.register(ApiToken)
class ApiTokenAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "project", "token_prefix", "allowed_ip", "last_used_at", "revoked"]
    list_filter = ["revoked"]
    readonly_fields = ["token_prefix", "created_at", "last_used_at"]
    fields = ["project", "name", "allowed_ip", "revoked", "token_prefix", "created_at"]

    def has_add_permission(self, request, *args):
        # Tokens are issued by `manage.py create_api_token`, which shows the raw token once.
        return False
