"""The connector page: URL, contact mapping, sample paths, steps, events, stats,
simulation, export and import."""

import io
import json
import re
import zipfile

from adminsortable2.admin import SortableAdminBase, SortableTabularInline
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from actions.registry import get_type
from picky.json_input import JSONInputError, parse_json
from picky.tenancy import EDIT, ProjectScopedAdminMixin, ProjectScopedInlineMixin
from picky.wording import counted

from .. import engine, transfer
from ..filters import filter_summary
from ..inbound_mail import mail_address, mail_payload
from ..mail_fields import cleaned_rule, extract_fields, mail_fields_errors
from ..models import Connector, Event, Step
from ..services import remap_from_event
from ..stats import connector_stats
from .builder import BuilderAdminMixin, preview_delay
from .display import path_tree, pretty_json, timeline_rows
from .forms import ConnectorForm, ImportForm, SimulateForm
from .template_paths import TemplateScope, scope_for
from .versions import VersionsAdminMixin

RECENT_EVENTS = 20


class StepInline(ProjectScopedInlineMixin, SortableTabularInline):
    model = Step
    fields = ["name", "summary", "edit_link"]
    readonly_fields = ["summary", "edit_link"]
    extra = 0
    verbose_name_plural = "Steps (drag to reorder; open a step for its filters and actions)"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("actions")

    @admin.display(description="What it does")
    def summary(self, step):
        if not step.pk:
            return "Save, then open the step to add filters and actions."
        return step_summary(step)

    @admin.display(description="")
    def edit_link(self, step):
        if not step.pk:
            return ""
        url = reverse("admin:connectors_step_change", args=[step.pk])
        return format_html('<a class="button" href="{}">Filters &amp; actions</a>', url)


def step_summary(step):
    parts = []
    conditions = filter_summary(step.filters)
    parts.append(f"runs when {conditions}" if conditions else "always runs")
    if step.delay:
        parts.append(delay_text(step.delay))
    if step.iterator:
        parts.append(f"for each item of {step.iterator.get('path', '?')}")
    actions = [action.name or type_label(action.type) for action in step.actions.all()]
    parts.append(f"actions: {', '.join(actions)}" if actions else "no action yet")
    return " · ".join(parts)


def type_label(key):
    action_type = get_type(key)
    return action_type.label if action_type else key


def delay_text(delay):
    unit = (delay.get("unit") or "minutes").removesuffix("s")
    at = delay.get("at")
    if delay.get("mode") == "fixed":
        if at and str(delay.get("amount")) in ("0", "0.0"):
            return f"waits until the next {at}"
        return f"waits {counted(delay.get('amount'), unit)}" + (f", then until {at}" if at else "")
    return relative_delay_text(delay, unit) + (f" at {at}" if at else "")


def relative_delay_text(delay, unit):
    field = delay.get("field", "?")
    offset = delay.get("offset") or 0
    try:
        offset = float(offset)
    except (TypeError, ValueError):
        # A template, read at run time.
        return f"waits until {counted(offset, unit)} from {field}"
    if not offset:
        return f"waits until {field}"
    direction = "before" if offset < 0 else "after"
    return f"waits until {counted(abs(offset), unit)} {direction} {field}"


@admin.register(Connector)
class ConnectorAdmin(
    VersionsAdminMixin,
    BuilderAdminMixin,
    SortableAdminBase,
    ProjectScopedAdminMixin,
    admin.ModelAdmin,
):
    form = ConnectorForm
    list_display = ["name", "project", "enabled", "connector_url", "updated_at"]
    list_filter = ["enabled", "project"]
    search_fields = ["name", "description"]
    readonly_fields = [
        "connector_url", "inbound_mail", "mail_fields_test", "created_at", "updated_at",
    ]  # fmt: skip
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "project",
                    "name",
                    "description",
                    "enabled",
                    "connector_url",
                ]
            },
        ),
        ("Inbound e-mail", {"fields": ["inbound_mail", "mail_fields", "mail_fields_test"]}),
        (
            "Trigger",
            {
                "fields": [
                    "trigger",
                    "trigger_channel",
                    "trigger_module",
                    "trigger_macro",
                    "trigger_group",
                ]
            },
        ),
        ("Contact mapping", {"fields": ["field_mapping"]}),
    ]
    inlines = [StepInline]
    actions = ["export_selected"]

    class Media:
        css = {"all": ["picky/admin.css"]}
        js = ["picky/copy.js", "picky/unsaved.js", "picky/mail-fields-test.js"]

    def get_readonly_fields(self, request, obj=None):
        # Events and runs carry the connector's project: a connector never moves.
        return [*self.readonly_fields, "project"] if obj else self.readonly_fields

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        projects = list(self.user_projects(request, EDIT)[:2])
        if len(projects) == 1:
            initial.setdefault("project", projects[0].pk)
        return initial

    @admin.display(description="Connector URL")
    def connector_url(self, obj):
        if not obj.pk:
            return "Shown once the connector is saved."
        return format_html(
            '<code class="picky-url">{}</code> '
            '<button type="button" class="button picky-copy" data-copy="{}">Copy</button>',
            obj.url,
            obj.url,
        )

    @admin.display(description="Inbound e-mail")
    def inbound_mail(self, obj):
        """The address mail is sent to (when an inbound domain is set) and the URL mail
        providers post inbound mail to: either becomes an event of this connector."""
        if not obj.pk:
            return "Shown once the connector is saved."
        address = mail_address(obj)
        return format_html(
            '{}<code class="picky-url">{}/mail</code> (SendGrid, Mailgun or Postmark inbound)',
            format_html("<code>{}</code> or ", address) if address else "",
            obj.url,
        )

    @admin.display(description="Test against a pasted mail")
    def mail_fields_test(self, obj):
        """A box to paste a raw mail into and see the fields the rows above take out of it
        (picky/mail-fields-test.js posts both to mail_fields_test_view)."""
        if not obj.pk:
            return "Shown once the connector is saved."
        url = reverse("admin:connectors_connector_mail_fields_test", args=[obj.pk])
        return format_html(
            '<div class="picky-mail-test" data-url="{}">'
            '<textarea class="vLargeTextField picky-mail-test-mail" rows="6" '
            'aria-label="A raw mail (RFC 822: headers, a blank line, the body)" '
            'placeholder="Subject: Order #A-1047&#10;From: shop@example.com&#10;&#10;'
            'Total 1,250.00"></textarea><br>'
            '<button type="button" class="button picky-mail-test-run">Test</button>'
            '<pre class="picky-mail-test-result" aria-live="polite"></pre></div>',
            url,
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/mail-fields-test/",
                view(require_POST(self.mail_fields_test_view)),
                name="connectors_connector_mail_fields_test",
            ),
            path("import/", view(self.import_view), name="connectors_connector_import"),
            path(
                "<int:object_id>/simulate/",
                view(self.simulate_view),
                name="connectors_connector_simulate",
            ),
            path(
                "<int:object_id>/export/",
                view(self.export_view),
                name="connectors_connector_export",
            ),
            path(
                "<int:object_id>/delay-preview/",
                view(require_POST(self.delay_preview_view)),
                name="connectors_connector_delay_preview",
            ),
            path(
                "<int:object_id>/remap/",
                view(require_POST(self.remap_view)),
                name="connectors_connector_remap",
            ),
            *super().get_urls(),
        ]

    # The change page --------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        connector = self.get_queryset(request).filter(pk=object_id).first()
        if connector is not None:
            extra_context = {**(extra_context or {}), **self.page_context(request, connector)}
        return super().change_view(request, object_id, form_url, extra_context)

    def page_context(self, request, connector):
        status = request.GET.get("event_status", "")
        events = connector.events.only(
            "id", "connector_id", "received_at", "status", "method", "source_ip", "error", "payload"
        )
        if status in Event.Status.values:
            events = events.filter(status=status)
        recent = [
            {"event": event, "payload_json": pretty_json(event.payload)}
            for event in events[:RECENT_EVENTS]
        ]
        stats = connector_stats(connector)
        return {
            "path_tree": path_tree(connector.sample_payload),
            "sample_json": pretty_json(connector.sample_payload),
            "stats": stats,
            "step_stats": [
                {"name": day["name"], "day": day, "month": month}
                for day, month in zip(stats["24h"]["steps"], stats["30d"]["steps"], strict=True)
            ],
            "recent_events": recent,
            "event_status": status,
            "event_statuses": Event.Status.choices,
            "events_url": reverse("admin:connectors_event_changelist")
            + f"?connector__id__exact={connector.pk}",
            "runs_url": reverse("admin:connectors_run_changelist")
            + f"?connector__id__exact={connector.pk}",
            "schedules_url": reverse("admin:connectors_scheduledstep_changelist")
            + f"?connector={connector.pk}",
        }

    def template_scope(self, request, obj):
        return scope_for(obj) if obj is not None and obj.pk else TemplateScope(sample=None)

    def template_values(self, obj):
        return {"field_mapping": obj.field_mapping}

    def delay_preview_view(self, request, object_id):
        """What a step's delay does for the sample payload, for the delay form's preview
        line: {"text": ...}; the body is {"delay": the delay's JSON}."""
        connector = self.scoped_object(request, object_id)
        try:
            body = parse_json(request.body)
        except JSONInputError as exc:
            return JsonResponse({"text": exc.message}, status=400)
        if not isinstance(body, dict) or "delay" not in body:
            return JsonResponse({"text": 'Send {"delay": ...}.'}, status=400)
        return JsonResponse({"text": preview_delay(connector, body["delay"])})

    def mail_fields_test_view(self, request, object_id):
        """The fields a parsing template takes out of a pasted mail: the body is {"mail":
        the raw mail's text, "rules": the rows as they stand}; {"fields": ...}, or
        {"errors": [...]} (400) naming the rows to fix."""
        self.scoped_object(request, object_id)
        try:
            body = parse_json(request.body)
        except JSONInputError as exc:
            return JsonResponse({"errors": [exc.message]}, status=400)
        if not isinstance(body, dict) or not isinstance(body.get("mail"), str):
            return JsonResponse({"errors": ['Send {"mail": text, "rules": [...]}.']}, status=400)
        rules = body.get("rules") or []
        rules = [cleaned_rule(rule) for rule in rules] if isinstance(rules, list) else rules
        errors = mail_fields_errors(rules)
        if errors:
            problems = [m if i is None else f"Field {i + 1}: {m}" for i, m in errors]
            return JsonResponse({"errors": problems}, status=400)
        if not body["mail"].strip():
            return JsonResponse({"errors": ["Paste a mail to test against."]}, status=400)
        payload = mail_payload(body["mail"].encode("utf-8", "surrogateescape"))
        return JsonResponse({"fields": extract_fields(rules, payload)})

    # Remap, simulate, export, import ----------------------------------------

    def remap_view(self, request, object_id):
        connector = self.scoped_object(request, object_id, EDIT)
        latest = latest_accepted_event(connector)
        if latest is None:
            self.message_user(request, "No accepted event to remap from yet.", messages.WARNING)
        else:
            remapped = remap_from_event(latest)
            self.message_user(
                request,
                f"Remapped from event {latest.pk} of {latest.received_at:%Y-%m-%d %H:%M}: "
                f"{len(remapped.mapped_paths)} attribute paths.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:connectors_connector_change", args=[object_id]))

    def simulate_view(self, request, object_id):
        connector = self.scoped_object(request, object_id)
        simulation = None
        if request.method == "POST":
            form = SimulateForm(request.POST)
            if form.is_valid():
                simulation = engine.simulate(
                    connector,
                    form.cleaned_data["payload"],
                    sends_safe_requests=form.cleaned_data["send_safe_requests"],
                )
        else:
            form = SimulateForm(initial={"payload": connector.sample_payload or {}})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": connector,
            "title": f"Simulate {connector.name}",
            "form": form,
            "media": self.media + form.media,
            "simulation": simulation,
            "rows": timeline_rows(simulation.logs) if simulation else [],
            "vars_json": pretty_json((simulation.context or {}).get("vars", {}))
            if simulation
            else "",
        }
        return TemplateResponse(request, "admin/connectors/connector/simulate.html", context)

    def export_view(self, request, object_id):
        connector = self.scoped_object(request, object_id)
        return json_download(transfer.export_connector(connector), export_filename(connector))

    @admin.action(description="Export selected connectors as JSON")
    def export_selected(self, request, queryset):
        connectors = list(queryset.select_related("project"))
        if len(connectors) == 1:
            connector = connectors[0]
            return json_download(transfer.export_connector(connector), export_filename(connector))
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
            for connector in connectors:
                bundle.writestr(export_filename(connector), export_text(connector))
        response = HttpResponse(archive.getvalue(), content_type="application/zip")
        response["Content-Disposition"] = 'attachment; filename="connectors.zip"'
        return response

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        projects = self.user_projects(request, EDIT)
        errors = []
        if request.method == "POST":
            form = ImportForm(request.POST, request.FILES, projects=projects)
            if form.is_valid():
                try:
                    connector = transfer.import_connector(
                        form.cleaned_data["project"],
                        form.cleaned_data["data"],
                        name=form.cleaned_data["name"].strip() or None,
                        published_by=request.user,
                    )
                except transfer.ConnectorImportError as exc:
                    errors = exc.messages
                else:
                    self.message_user(
                        request,
                        f"Imported {connector.name}: {connector.steps.count()} steps. "
                        "It has a new URL of its own.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        reverse("admin:connectors_connector_change", args=[connector.pk])
                    )
        else:
            form = ImportForm(projects=projects)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import a connector",
            "form": form,
            "import_errors": errors,
        }
        return TemplateResponse(request, "admin/connectors/connector/import.html", context)


def latest_accepted_event(connector):
    return (
        connector.events.exclude(status=Event.Status.REJECTED)
        .exclude(payload__isnull=True)
        .order_by("-received_at", "-id")
        .first()
    )


def export_text(connector):
    return json.dumps(transfer.export_connector(connector), indent=2, ensure_ascii=False)


def export_filename(connector):
    slug = re.sub(r"[^A-Za-z0-9]+", "-", connector.name).strip("-").lower() or "connector"
    return f"{connector.project.slug}-{slug}.json"


def json_download(document, filename):
    response = HttpResponse(
        json.dumps(document, indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
