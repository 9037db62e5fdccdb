from django import forms
from django.contrib import admin

from .models import ApiToken, Membership, Project
from .services import projects_of
from .tenancy import ProjectScopedAdminMixin, ProjectScopedInlineMixin


class MembershipInline(ProjectScopedInlineMixin, admin.TabularInline):
    """Members see who is in their project; only superusers add or remove people,
    since choosing a user would list every account of every tenant."""

    model = Membership
    extra = 0
    autocomplete_fields = ["user"]

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


admin.site.site_header = "Picky"
admin.site.site_title = "Picky admin"
admin.site.index_title = "Connectors, contacts and chats"

SECRET_FIELDS = ["chatgpt_api_key"]


class ProjectForm(forms.ModelForm):
    """Secrets are never sent back to the browser: an empty box keeps the saved
    value, and a checkbox removes it."""

    clear_chatgpt_api_key = forms.BooleanField(required=False, label="Remove the ChatGPT API key")

    class Meta:
        # No model or field list here: the admin builds the form with every field of
        # Project, including those later features add.
        widgets = {name: forms.PasswordInput(render_value=False) for name in SECRET_FIELDS}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            if name in self.fields:
                saved = bool(getattr(self.instance, name, ""))
                self.fields[name].help_text += (
                    " A key is saved: leave empty to keep it." if saved else ""
                )

    def clean(self):
        cleaned = super().clean()
        for name in SECRET_FIELDS:
            if name not in self.fields:
                continue
            if cleaned.get(f"clear_{name}"):
                cleaned[name] = ""
            elif not cleaned.get(name):
                cleaned[name] = getattr(self.instance, name, "")
        return cleaned


@admin.register(Project)
class ProjectAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    form = ProjectForm
    list_display = ["name", "slug", "time_zone", "alert_email", "retention_days", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]
    main_fields = ["name", "slug", "time_zone", "alert_email", "created_at"]
    chatgpt_fields = ["chatgpt_api_key", "clear_chatgpt_api_key", "chatgpt_base_url"]

    def get_fieldsets(self, request, obj=None):
        fields = self.get_fields(request, obj)
        grouped = set(self.main_fields) | set(self.chatgpt_fields)
        return [
            (None, {"fields": [f for f in self.main_fields if f in fields]}),
            ("Settings and limits", {"fields": [f for f in fields if f not in grouped]}),
            ("ChatGPT", {"fields": [f for f in self.chatgpt_fields if f in fields]}),
        ]

    def get_queryset(self, request):
        return projects_of(request.user)

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj else {"slug": ["name"]}

    def get_readonly_fields(self, request, obj=None):
        # The slug names the project in commands and URLs; members cannot rename it.
        if obj is not None and not request.user.is_superuser:
            return ["slug", "created_at"]
        return ["created_at"]

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        # The queryset already limits members to their projects, and a project has no
        # project of its own to check.
        admin.ModelAdmin.save_model(self, request, obj, form, change)


@admin.register(ApiToken)
class ApiTokenAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "project", "token_prefix", "allowed_ip", "last_used_at", "revoked"]
    list_filter = ["revoked", "project"]
    search_fields = ["name", "token_prefix"]
    readonly_fields = ["project", "token_prefix", "created_at", "last_used_at"]
    fields = [
        "project",
        "name",
        "allowed_ip",
        "revoked",
        "token_prefix",
        "created_at",
        "last_used_at",
    ]

    def has_add_permission(self, request, *args):
        # Tokens are issued by `manage.py create_api_token`, which shows the raw token once.
        return False
