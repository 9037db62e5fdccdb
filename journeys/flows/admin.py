"""The chatbot flow page: the flow, its steps in order (drag to reorder; each a name, a
kind and the fields of that kind, the others hidden) and its branch rows; and the list
of contacts in flows.

A flow is checked as a whole before anything of it is saved (journeys/flows/checks.py):
every "go to" must name a step of the page as it will be saved, and every step must have
what its kind needs. The checks need the steps and the branch rows together, which are
two inlines: the branch rows' formset runs them once both are cleaned, and puts each
problem at its field.
"""

from adminsortable2.admin import (
    CustomInlineFormSet,
    SortableAdminBase,
    SortableStackedInline,
    SortableTabularInline,
)
from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count
from django.utils.html import format_html, format_html_join

from picky.attribute_picker import TemplateFieldsMixin
from picky.tenancy import ProjectScopedAdminMixin, ProjectScopedInlineMixin

from ..template_paths import FLOW_GROUP, ContactTemplatesAdminMixin
from .checks import flow_problems
from .models import BranchRow, Flow, FlowSession, FlowStep
from .services import stop_flow


class StepNameInput(forms.TextInput):
    """A text box offering the flow's saved step names; a step added on the same page may
    be typed before it is saved."""

    def __init__(self, names, attrs=None):
        super().__init__(attrs)
        self.names = names

    def render(self, name, value, attrs=None, renderer=None):
        list_id = f"{(attrs or {}).get('id') or name}-steps"
        box = super().render(name, value, {**(attrs or {}), "list": list_id}, renderer)
        options = format_html_join("", '<option value="{}">', ((n,) for n in self.names))
        return format_html('{}<datalist id="{}">{}</datalist>', box, list_id, options)


def kept_forms(formset):
    """The formset's forms that will be saved: not deleted, not an untouched extra one."""
    return [
        form
        for form in formset.forms
        if not formset._should_delete_form(form) and (form.has_changed() or form.instance.pk)
    ]


class BranchRowFormSet(CustomInlineFormSet):
    # Set by FlowAdmin: the steps' formset of the same page.
    steps_formset = None

    def clean(self):
        super().clean()
        if self.steps_formset is None:
            return
        step_forms, row_forms = kept_forms(self.steps_formset), kept_forms(self)
        problems = flow_problems(
            [getattr(form, "cleaned_data", {}) for form in step_forms],
            [getattr(form, "cleaned_data", {}) for form in row_forms],
            project=self.instance.project if self.instance.project_id else None,
        )
        forms_of = {"steps": step_forms, "branch_rows": row_forms}
        steps_wrong = False
        for problem in problems:
            if not forms_of[problem.where]:
                # No step at all.
                raise ValidationError(problem.message)
            forms_of[problem.where][problem.index].add_error(problem.field, problem.message)
            steps_wrong = steps_wrong or problem.where == "steps"
        if steps_wrong:
            raise ValidationError("Some steps need fixing: see the messages at them above.")


# Steps are many on one page: their texts take a few lines, not the admin's ten.
SHORT_TEXTS = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 3, "cols": 70})}}


class StepNamesInline:
    """An inline whose step-name fields offer the flow's saved step names."""

    step_name_fields = ()

    def get_formset(self, request, obj=None, **kwargs):
        names = list(obj.steps.values_list("name", flat=True)) if obj and obj.pk else []
        kwargs["widgets"] = {name: StepNameInput(names) for name in self.step_name_fields}
        return super().get_formset(request, obj, **kwargs)


class FlowStepInline(
    TemplateFieldsMixin, StepNamesInline, ProjectScopedInlineMixin, SortableStackedInline
):
    model = FlowStep
    template_fields = ("text", "retry_text", "value", "tags")
    extra = 0
    verbose_name_plural = "Steps (in order; drag to reorder)"
    formfield_overrides = SHORT_TEXTS
    fields = ["name", "kind", "text", "answer_type", "choices", "attribute", "retry_text",
              "value", "tags", "agents", "departments", "go_to"]  # fmt: skip
    step_name_fields = ("go_to",)

    class Media:
        js = ["journeys/flow_steps.js"]


class BranchRowInline(StepNamesInline, ProjectScopedInlineMixin, SortableTabularInline):
    model = BranchRow
    formset = BranchRowFormSet
    extra = 0
    verbose_name_plural = (
        "Branch rows: at a branch step, the first row the answer matches chooses the next "
        "step; none matching, its “then go to”"
    )
    fields = ["step", "match", "value", "go_to"]
    step_name_fields = ("step", "go_to")


@admin.register(Flow)
class FlowAdmin(
    ContactTemplatesAdminMixin, SortableAdminBase, ProjectScopedAdminMixin, admin.ModelAdmin
):
    list_display = ["name", "project", "step_count", "in_flow", "timeout_minutes"]
    list_filter = ["project"]
    search_fields = ["name"]
    fields = ["project", "name", "timeout_minutes", "timeout_message"]
    formfield_overrides = SHORT_TEXTS
    inlines = [FlowStepInline, BranchRowInline]
    template_fields = ("timeout_message",)
    extra_picker_groups = (FLOW_GROUP,)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                step_total=Count("steps", distinct=True),
                session_total=Count("sessions", distinct=True),
            )
        )

    @admin.display(description="steps", ordering="step_total")
    def step_count(self, flow):
        return flow.step_total

    @admin.display(description="contacts in it", ordering="session_total")
    def in_flow(self, flow):
        return flow.session_total

    def _create_formsets(self, request, obj, change):
        formsets, inline_instances = super()._create_formsets(request, obj, change)
        steps = next((f for f in formsets if f.model is FlowStep), None)
        for formset in formsets:
            if isinstance(formset, BranchRowFormSet):
                formset.steps_formset = steps
        return formsets, inline_instances


@admin.register(FlowSession)
class FlowSessionAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    """Who is in which flow, at which step; deleting a row takes the contact out (a line
    on their timeline says so)."""

    list_display = ["contact", "flow", "step", "channel", "started_at", "expires_at"]
    list_filter = ["flow", "project"]
    search_fields = ["contact__name", "contact__number"]
    list_select_related = ["contact", "flow", "channel"]
    readonly_fields = ["project", "flow", "contact", "channel", "step", "started_at",
                       "last_activity_at", "expires_at"]  # fmt: skip

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        stop_flow(obj.flow, obj.contact)

    def delete_queryset(self, request, queryset):
        for session in queryset.select_related("flow", "contact"):
            stop_flow(session.flow, session.contact)
