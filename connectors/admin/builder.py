"""What the builder's forms need on the connector, step and action pages: the attribute tree
of the picker (picky/attribute-picker.js), warnings under the fields whose templates name a
path the sample does not have (warnings, not errors: the page saves), and the delay
form's preview line."""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from actions.base import ActionContext

from .. import delays
from ..models import Event, Step
from ..services import context_namespaces
from .template_paths import picker_tree, template_warnings


class BuilderAdminMixin:
    """For a ModelAdmin whose form holds templates. Subclasses say what the templates read
    (`template_scope`) and which form fields hold them (`template_values`)."""

    def template_scope(self, request, obj):
        """The TemplateScope of the page (obj None: an add page), or None when unknown."""
        raise NotImplementedError

    def template_values(self, obj):
        """{form field name: the saved value holding templates} of `obj`."""
        raise NotImplementedError

    def field_warnings(self, request, obj, scope=None):
        """{form field name: [warning]} for the saved `obj` (in `scope`, when the caller
        has it already: building a scope reads the project's names)."""
        scope = scope if scope is not None else self.template_scope(request, obj)
        if scope is None:
            return {}
        found = {}
        for name, value in self.template_values(obj).items():
            warnings = template_warnings(value, scope)
            if warnings:
                found[name] = warnings
        return found

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        scope = self.template_scope(request, obj)
        if scope is not None:
            context["picky_paths"] = picker_tree(scope)
            form = context["adminform"].form
            if obj is not None and obj.pk and not form.is_bound:
                for name, warnings in self.field_warnings(request, obj, scope).items():
                    show_warnings(form, name, warnings)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def response_add(self, request, obj, post_url_continue=None):
        return self.stay_when_warned(request, obj) or super().response_add(
            request, obj, post_url_continue
        )

    def response_change(self, request, obj):
        return self.stay_when_warned(request, obj) or super().response_change(request, obj)

    def stay_when_warned(self, request, obj):
        """Back to the saved page, its warnings under their fields, when a template names a
        path the sample lacks; None otherwise (the page's usual way on)."""
        if "_addanother" in request.POST or "_saveasnew" in request.POST:
            return None
        warnings = self.field_warnings(request, obj)
        if not warnings:
            return None
        count = sum(len(found) for found in warnings.values())
        self.message_user(
            request,
            f"Saved, with {count} template warning{'s' if count != 1 else ''}: "
            "see the fields marked below.",
            messages.WARNING,
        )
        opts = obj._meta
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        )


def show_warnings(form, name, warnings):
    field = form.fields.get(name)
    if field is None:
        return
    field.help_text = format_html(
        '{}<ul class="picky-warnings">{}</ul>',
        field.help_text,
        format_html_join("", "<li>{}</li>", ((warning,) for warning in warnings)),
    )


def preview_delay(connector, delay):
    """What `delay` does for the connector's sample payload, in a sentence: the engine's own
    plan (plan_delay) on a run of the sample received now, as the builder shows it."""
    errors = delays.delay_errors(delay)
    if errors:
        return "Not complete yet: " + "; ".join(errors.values())
    if delay is None:
        return "The step runs at once."
    project = connector.project
    event = Event(project=project, connector=connector, payload=connector.sample_payload or {})
    ctx = ActionContext(project=project, data=context_namespaces(event), connector=connector)
    plan = delays.plan_delay(Step(connector=connector, delay=delay), ctx)
    when = _day_and_time(plan.due_at, project) if plan.due_at else ""
    if plan.decision == "fail":
        return f"For the sample payload this fails: {plan.reason.split(': ', 1)[-1]}"
    if plan.decision == "park":
        return f"For the sample payload this waits until {when}."
    if delay["mode"] == "fixed":
        return "The step runs at once (no wait)."
    outcome = {"now": "the step runs at once", "skip": "the step is skipped",
               "stop": "the run stops"}[plan.decision]  # fmt: skip
    return f"For the sample payload the time ({when}) has passed: {outcome}."


def _day_and_time(moment, project):
    """ "Tue 9 Dec 16:30 (Asia/Kolkata)", with the year when it is not this one."""
    local = moment.astimezone(project.tzinfo)
    year = "" if local.year == timezone.now().astimezone(project.tzinfo).year else f" {local.year}"
    return f"{local:%a} {local.day} {local:%b}{year} {local:%H:%M} ({project.time_zone})"
