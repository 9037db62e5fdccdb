"""The step page: filters, iterator and delay, and the step's ordered actions."""

from adminsortable2.admin import SortableAdminBase, SortableTabularInline
from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Max
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from actions.models import Action
from actions.registry import get_type
from picky.tenancy import ProjectScopedAdminMixin, ProjectScopedInlineMixin

from ..models import Connector, Step
from .builder import BuilderAdminMixin
from .forms import StepForm
from .step_test import StepTestAdminMixin
from .template_paths import TemplateScope, scope_for

SUMMARY_CHARS = 140
# Where a step not yet saved stands among its connector's steps: last.
NEW_POSITION = 2**31 - 1


class ActionInline(ProjectScopedInlineMixin, SortableTabularInline):
    model = Action
    fields = ["name", "enabled", "type_label", "settings", "buttons"]
    readonly_fields = ["type_label", "settings", "buttons"]
    formfield_overrides = {
        models.CharField: {"widget": forms.TextInput(attrs={"placeholder": "optional name"})}
    }
    extra = 0
    verbose_name_plural = "Actions (drag to reorder, then save)"

    def has_add_permission(self, request, obj=None):
        # A new action starts on its own page, where its type's settings form is shown.
        return False

    @admin.display(description="Type")
    def type_label(self, action):
        action_type = get_type(action.type)
        if action_type is None:
            return format_html('<span class="picky-error">Unknown type {}</span>', action.type)
        return action_type.label

    @admin.display(description="Settings")
    def settings(self, action):
        action_type = get_type(action.type)
        if action_type is None:
            return config_summary(action.config)
        # In the form's field order: PostgreSQL's jsonb does not keep the config's key order.
        order = {name: i for i, name in enumerate(action_type.form_class.base_fields)}
        config = action_type.loggable(action.config or {})
        return config_summary(dict(sorted(config.items(), key=lambda kv: order.get(kv[0], 99))))

    @admin.display(description="")
    def buttons(self, action):
        links = [("Edit settings", reverse("admin:actions_action_change", args=[action.pk]))]
        action_type = get_type(action.type)
        if action_type is not None:
            links.extend(action_type.admin_links(action))
        return format_html_join(
            " ",
            '<a class="button picky-button" href="{}">{}</a>',
            ((url, label) for label, url in links),
        )


def config_summary(config):
    parts = []
    for key, value in (config or {}).items():
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        parts.append(f"{key}: {value}")
    text = " · ".join(parts)
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


@admin.register(Step)
class StepAdmin(
    StepTestAdminMixin,
    BuilderAdminMixin,
    SortableAdminBase,
    ProjectScopedAdminMixin,
    admin.ModelAdmin,
):
    project_path = "connector__project"
    form = StepForm
    list_display = ["__str__", "connector", "position"]
    list_select_related = ["connector"]
    search_fields = ["name", "connector__name"]
    inlines = [ActionInline]
    fieldsets = [
        (None, {"fields": ["connector", "name"]}),
        ("When the step runs", {"fields": ["filters", "delay"]}),
        ("Repeat for each item", {"fields": ["iterator"]}),
    ]

    class Media:
        css = {"all": ["picky/admin.css"]}
        js = ["picky/unsaved.js"]

    def template_scope(self, request, obj):
        if obj is not None and obj.pk:
            return scope_for(obj.connector, obj)
        connector_id = request.GET.get("connector", "")
        connector = (
            Connector.objects.filter(pk=connector_id, project__in=self.user_projects(request))
            .select_related("project")
            .first()
            if connector_id.isdigit()
            else None
        )
        if connector is None:
            return TemplateScope(sample=None)
        # A new step comes after the others: every action runs before it.
        return scope_for(connector, Step(connector=connector, position=NEW_POSITION))

    def template_values(self, obj):
        iterator = obj.iterator if isinstance(obj.iterator, dict) else {}
        # The iterator's path is written without braces: checked as the template it reads.
        items = f"{{{{ {iterator['path']} }}}}" if iterator.get("path") else None
        return {"filters": obj.filters, "delay": obj.delay, "iterator": items}

    def get_model_perms(self, request):
        # Steps are reached from their connector's page, not from the index.
        return {}

    def get_readonly_fields(self, request, obj=None):
        return ["connector"] if obj else []

    def get_inlines(self, request, obj):
        # Actions are added to a saved step, each on its own page.
        return self.inlines if obj else []

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("filters", [])
        return initial

    def change_view(self, request, object_id, form_url="", extra_context=None):
        step = self.get_queryset(request).filter(pk=object_id).first()
        if step is not None:
            extra_context = {
                **(extra_context or {}),
                "connector": step.connector,
                "add_action_url": reverse("admin:actions_action_add") + f"?step={step.pk}",
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if not change:
            last = obj.connector.steps.aggregate(last=Max("position"))["last"]
            obj.position = 0 if last is None else last + 1
        super().save_model(request, obj, form, change)

    def response_post_save_change(self, request, obj):
        return self.back_to_connector(obj)

    def response_post_save_add(self, request, obj):
        # A new step is only useful with actions: stay on it.
        return HttpResponseRedirect(reverse("admin:connectors_step_change", args=[obj.pk]))

    def back_to_connector(self, step):
        return HttpResponseRedirect(
            reverse("admin:connectors_connector_change", args=[step.connector_id])
        )
