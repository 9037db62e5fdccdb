import json

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils.html import format_html
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from .global_variables import GlobalValueError, coerce_value
from .models import ApiToken, GlobalVariable, Membership, Project
from .secret_values import SecretField, SecretInput
from .tenancy import EDIT, ProjectScopedAdminMixin, ProjectScopedInlineMixin
from .wording import counted


class MembershipInline(ProjectScopedInlineMixin, admin.TabularInline):
    """The project's owners and admins change members' roles and remove members; only
    superusers add people, since choosing a user would list every account of every
    tenant."""

    model = Membership
    extra = 0
    autocomplete_fields = ["user"]

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        return [] if request.user.is_superuser else ["user"]


class SuperuserOnlyAdminMixin:
    """A page of Django's or Celery's own tables (accounts, groups and their raw
    permissions, beat's periodic tasks and schedules): for whoever runs Picky, never for a
    project's members, whatever Django permissions their account was given."""

    def is_superuser(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request):
        return self.is_superuser(request)

    def has_view_permission(self, request, obj=None):
        return self.is_superuser(request)

    def has_add_permission(self, request, *args):
        return self.is_superuser(request)

    def has_change_permission(self, request, obj=None):
        return self.is_superuser(request)

    def has_delete_permission(self, request, obj=None):
        return self.is_superuser(request)


# Registered by their apps, listed before picky in INSTALLED_APPS (so already here).
INTERNAL_MODELS = [
    get_user_model(),
    Group,
    PeriodicTask,
    IntervalSchedule,
    CrontabSchedule,
    ClockedSchedule,
    SolarSchedule,
]


def keep_for_superusers(model):
    """Re-register `model` with its own admin class, open to superusers only."""
    model_admin = type(admin.site.get_model_admin(model))
    admin.site.unregister(model)
    admin.site.register(
        model, type(model_admin.__name__, (SuperuserOnlyAdminMixin, model_admin), {})
    )


for internal_model in INTERNAL_MODELS:
    keep_for_superusers(internal_model)

admin.site.site_header = "Picky"
admin.site.site_title = "Picky admin"
admin.site.index_title = "Connectors, contacts and chats"


class ProjectForm(forms.ModelForm):
    """The ChatGPT key is write-only (picky/secret_values.py)."""

    class Meta:
        # No model or field list here: the admin builds the form with every field of
        # Project, including those later features add.
        field_classes = {"chatgpt_api_key": SecretField}
        widgets = {"chatgpt_api_key": SecretInput}


@admin.register(Project)
class ProjectAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    project_path = "pk"
    form = ProjectForm
    list_display = ["name", "slug", "time_zone", "alert_email", "retention_days", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]
    main_fields = ["name", "slug", "time_zone", "alert_email", "created_at"]
    chatgpt_fields = ["chatgpt_api_key", "chatgpt_base_url"]

    def get_fieldsets(self, request, obj=None):
        fields = self.get_fields(request, obj)
        grouped = set(self.main_fields) | set(self.chatgpt_fields)
        return [
            (None, {"fields": [f for f in self.main_fields if f in fields]}),
            ("Settings and limits", {"fields": [f for f in fields if f not in grouped]}),
            ("ChatGPT", {"fields": [f for f in self.chatgpt_fields if f in fields]}),
        ]

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


@admin.register(ApiToken)
class ApiTokenAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    """Owners and admins add tokens (the raw token is shown once, in a message after the
    save; only its hash is kept), rename them, bind them to an IP and revoke them."""

    list_display = [
        "name",
        "project",
        "token_prefix",
        "allowed_ip",
        "created_at",
        "last_used_at",
        "revoked",
    ]
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
    add_fields = ["project", "name", "allowed_ip"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # Revoking is final: a revoked token never works again (add a new one).
        if obj.revoked:
            return [*self.readonly_fields, "revoked"]
        return self.readonly_fields

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        projects = self.user_projects(request, EDIT)[:2]
        if len(projects) == 1:
            initial.setdefault("project", projects[0].pk)
        return initial

    def save_model(self, request, obj, form, change):
        raw = None if change else obj.draw_secret()
        super().save_model(request, obj, form, change)
        if raw is not None:
            messages.warning(
                request,
                format_html(
                    "The API token {name}: <code>{raw}</code> — copy it now: it is shown "
                    "only this once (Picky keeps only a hash of it). Send it as "
                    "<code>Authorization: Bearer &lt;token&gt;</code>.",
                    name=obj.name,
                    raw=raw,
                ),
            )

    @admin.action(description="Revoke selected API tokens (final)")
    def revoke(self, request, queryset):
        revoked = queryset.filter(revoked=False).update(revoked=True)
        messages.success(
            request,
            f"Revoked {counted(revoked, 'API token')}; requests with "
            f"{'it' if revoked == 1 else 'them'} are refused from now on.",
        )


class GlobalVariableForm(forms.ModelForm):
    """The value typed as text and read as the kind says: a number, any JSON, or text."""

    value = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Text as typed; a number such as 12.50; or JSON such as "
        '{"gold": 10, "silver": 5}. Templates read it as globals.NAME.',
    )

    class Meta:
        model = GlobalVariable
        fields = ["project", "name", "kind", "value"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.kind == GlobalVariable.Kind.JSON:
            self.initial["value"] = json.dumps(self.instance.value, indent=2, ensure_ascii=False)
        elif self.instance.pk:
            self.initial["value"] = str(self.instance.value)

    def clean(self):
        cleaned = super().clean()
        kind, text = cleaned.get("kind"), cleaned.get("value", "")
        if kind == GlobalVariable.Kind.JSON:
            try:
                cleaned["value"] = json.loads(text)
            except ValueError as exc:
                self.add_error("value", f"This is not JSON: {exc.msg} (line {exc.lineno}).")
        elif kind:
            try:
                cleaned["value"] = coerce_value(kind, text, cleaned.get("name") or "")
            except GlobalValueError:
                self.add_error("value", f"{text!r} is not a number.")
        return cleaned


@admin.register(GlobalVariable)
class GlobalVariableAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    """Owners and admins keep the project's global variables; a change reaches the next
    run with no restart (picky/global_variables.py)."""

    form = GlobalVariableForm
    list_display = ["name", "project", "kind", "shown_value", "updated_at"]
    list_filter = ["kind", "project"]
    search_fields = ["name"]

    @admin.display(description="Value")
    def shown_value(self, obj):
        text = obj.value if isinstance(obj.value, str) else json.dumps(obj.value)
        return text if len(text) <= 80 else f"{text[:79]}…"
