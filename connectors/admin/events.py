"""Events: what each connector received, its payload, remap and replay."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from picky.tenancy import EDIT, ProjectScopedAdminMixin

from .. import engine
from ..models import Event
from ..services import remap_from_event
from .display import pretty_json


@admin.register(Event)
class EventAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "connector",
        "received_at",
        "status_badge",
        "method",
        "source_ip",
        "error",
    ]
    list_display_links = ["id", "received_at"]
    list_filter = ["status", "connector", "received_at"]
    list_select_related = ["connector"]
    search_fields = ["source_ip", "error"]
    date_hierarchy = "received_at"
    actions = ["remap_from_selected"]
    readonly_fields = [
        "connector",
        "status_badge",
        "received_at",
        "method",
        "source_ip_view",
        "payload_view",
        "error",
        "raw_body_view",
        "headers_view",
        "hop_count",
    ]

    class Media:
        css = {"all": ["picky/admin.css"]}

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (
                None,
                {
                    "fields": [
                        "connector",
                        "status_badge",
                        "received_at",
                        "method",
                        "source_ip_view",
                    ]
                },
            ),
            ("Payload", {"fields": ["payload_view"]}),
        ]
        if obj is not None and (obj.error or obj.raw_body):
            fieldsets.append(("Problem", {"fields": ["error", "raw_body_view"]}))
        fieldsets.append(
            ("Request", {"fields": ["headers_view", "hop_count"], "classes": ["collapse"]})
        )
        return fieldsets

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        # Events are records of what was received; they are never edited.
        return False

    @admin.display(description="Status", ordering="status")
    def status_badge(self, event):
        return status_badge(event.status, event.get_status_display())

    @admin.display(description="Source IP")
    def source_ip_view(self, event):
        return event.source_ip or "—"

    @admin.display(description="Payload")
    def payload_view(self, event):
        if event.payload is None:
            return "No payload: the request was rejected (see Problem)."
        return format_html('<pre class="picky-json-view">{}</pre>', pretty_json(event.payload))

    @admin.display(description="Body as received")
    def raw_body_view(self, event):
        return format_html('<pre class="picky-json-view">{}</pre>', event.raw_body or "")

    @admin.display(description="Headers")
    def headers_view(self, event):
        return format_html('<pre class="picky-json-view">{}</pre>', pretty_json(event.headers))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/replay/",
                view(require_POST(self.replay_view)),
                name="connectors_event_replay",
            ),
            path(
                "<int:object_id>/remap/",
                view(require_POST(self.remap_view)),
                name="connectors_event_remap",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        event = self.get_queryset(request).filter(pk=object_id).first()
        if event is not None:
            extra_context = {
                **(extra_context or {}),
                "runs": event.runs.order_by("created_at", "id"),
                "can_replay": event.payload is not None,
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def replay_view(self, request, object_id):
        event = self.scoped_object(request, object_id, EDIT)
        run = replay(self, request, event)
        target = (
            reverse("admin:connectors_run_change", args=[run.pk])
            if run
            else reverse("admin:connectors_event_change", args=[event.pk])
        )
        return HttpResponseRedirect(target)

    def remap_view(self, request, object_id):
        event = self.scoped_object(request, object_id, EDIT)
        remap(self, request, event)
        return HttpResponseRedirect(
            reverse("admin:connectors_connector_change", args=[event.connector_id])
        )

    @admin.action(description="Remap the connector from this event")
    def remap_from_selected(self, request, queryset):
        events = list(queryset.select_related("connector")[:2])
        if len(events) != 1:
            self.message_user(
                request, "Select exactly one event to remap its connector from.", messages.ERROR
            )
            return None
        remap(self, request, events[0])
        return None


def remap(model_admin, request, event):
    if event.payload is None:
        model_admin.message_user(
            request, f"Event {event.pk} was rejected: it has no payload to map.", messages.ERROR
        )
        return
    connector = remap_from_event(event)
    model_admin.message_user(
        request,
        f"{connector.name} remapped from event {event.pk}: "
        f"{len(connector.mapped_paths)} attribute paths.",
        messages.SUCCESS,
    )


def replay(model_admin, request, event):
    """Replay `event`; the new run, or None with an error message."""
    if event.payload is None:
        model_admin.message_user(
            request, f"Event {event.pk} was rejected: there is nothing to replay.", messages.ERROR
        )
        return None
    run = engine.replay_event(event)
    model_admin.message_user(
        request, f"Replaying event {event.pk} as run {run.pk}.", messages.SUCCESS
    )
    return run


def status_badge(value, label):
    return format_html('<span class="picky-badge picky-status-{}">{}</span>', value, label)
