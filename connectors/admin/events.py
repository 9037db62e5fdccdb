"""Events: what each connector received, its payload and the outcome of its runs, remap,
and replay: resume the latest run, or run the event again from the start once the outside
effects that repeats are confirmed."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import smart_split, unescape_string_literal
from django.views.decorators.http import require_POST

from picky.tenancy import EDIT, ProjectScopedAdminMixin

from .. import engine, queries
from ..models import Event, Run
from ..services import remap_from_event
from .display import pretty_json

# An event's outcome: its latest run's status, or its own while it has no run.
OUTCOME_LABELS = {
    **dict(Event.Status.choices),
    **dict(Run.Status.choices),
}
OUTCOMES = [
    Run.Status.SUCCEEDED,
    Run.Status.FAILED,
    Run.Status.STOPPED,
    Run.Status.WAITING,
    Run.Status.RUNNING,
    Run.Status.QUEUED,
    Event.Status.REJECTED,
]


class OutcomeFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [(value, OUTCOME_LABELS[value]) for value in OUTCOMES]

    def queryset(self, request, queryset):
        if self.value() in OUTCOMES:
            return queryset.filter(outcome=self.value())
        return queryset


@admin.register(Event)
class EventAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "connector",
        "received_at",
        "outcome_badge",
        "method",
        "source_ip",
        "error",
    ]
    list_display_links = ["id", "received_at"]
    list_filter = [OutcomeFilter, "connector", "received_at"]
    list_select_related = ["connector"]
    # And the payload's text: get_search_results.
    search_fields = ["source_ip", "error"]
    search_help_text = "Finds a name, a number or an e-mail in the payloads, or a source IP."
    date_hierarchy = "received_at"
    actions = ["remap_from_selected"]
    readonly_fields = [
        "connector",
        "outcome_badge",
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
                        "outcome_badge",
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

    def get_queryset(self, request):
        return queries.with_outcome(super().get_queryset(request))

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        words = search_words(search_term)
        if words:
            found = found | queryset.filter(queries.payload_contains(words))
        return found, may_have_duplicates

    @admin.display(description="Outcome", ordering="outcome")
    def outcome_badge(self, event):
        return status_badge(event.outcome, OUTCOME_LABELS.get(event.outcome, event.outcome))

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
                view(self.replay_view),
                name="connectors_event_replay",
            ),
            path(
                "<int:object_id>/resume/",
                view(require_POST(self.resume_view)),
                name="connectors_event_resume",
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
            latest = engine.latest_run(event.pk)
            extra_context = {
                **(extra_context or {}),
                "runs": event.runs.order_by("created_at", "id"),
                "can_replay": event.payload is not None,
                **resume_offer(latest),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def replay_view(self, request, object_id):
        """GET: the outside effects running the event again would repeat; POST: run it."""
        event = self.scoped_object(request, object_id, EDIT)
        back = reverse("admin:connectors_event_change", args=[event.pk])
        if request.method != "POST":
            return confirm_replay(self, request, event, engine.latest_run(event.pk), back)
        run = replay(self, request, event)
        target = reverse("admin:connectors_run_change", args=[run.pk]) if run else back
        return HttpResponseRedirect(target)

    def resume_view(self, request, object_id):
        event = self.scoped_object(request, object_id, EDIT)
        latest = engine.latest_run(event.pk)
        if latest is None:
            self.message_user(
                request, f"Event {event.pk} has no run to resume yet.", messages.ERROR
            )
            return HttpResponseRedirect(reverse("admin:connectors_event_change", args=[event.pk]))
        return resume(self, request, latest)

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


def search_words(search_term):
    """The words of an admin search, as the admin splits them ("Asha Nair" quoted is one)."""
    words = []
    for word in smart_split(search_term):
        if word[:1] in "\"'" and word[-1:] == word[:1]:
            word = unescape_string_literal(word)
        if word:
            words.append(word)
    return words


def replay(model_admin, request, event):
    """Run `event` again from the start; the new run, or None with an error message."""
    if event.payload is None:
        model_admin.message_user(
            request, f"Event {event.pk} was rejected: there is nothing to replay.", messages.ERROR
        )
        return None
    run = engine.replay_event(event)
    model_admin.message_user(
        request, f"Running event {event.pk} again from the start as run {run.pk}.", messages.SUCCESS
    )
    return run


def resume(model_admin, request, run):
    """Resume `run` and show the new run, or show `run` again with why it cannot be."""
    try:
        resumed = engine.resume_run(run)
    except engine.ReplayRefused as refused:
        model_admin.message_user(request, str(refused), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:connectors_run_change", args=[run.pk]))
    point = engine.resume_point(run)
    model_admin.message_user(
        request,
        f"Resuming run {run.pk} as run {resumed.pk}"
        + (f", at {point}" if point else "")
        + ": what it had done is not done again.",
        messages.SUCCESS,
    )
    return HttpResponseRedirect(reverse("admin:connectors_run_change", args=[resumed.pk]))


def resume_offer(run):
    """What the event and run pages say of resuming `run`: whether it can be
    (`resumable`), where it would go on (`resume_point`), and `resume_run`."""
    if run is None or engine.resume_refusal(run):
        return {"resumable": False}
    return {"resumable": True, "resume_run": run, "resume_point": engine.resume_point(run)}


def confirm_replay(model_admin, request, event, run, cancel_url):
    """The page that asks before an event runs again from the start: the actions that
    reach outside Picky (messages, mail, HTTP) it will repeat, and Resume when it can."""
    if event.payload is None:
        model_admin.message_user(
            request, f"Event {event.pk} was rejected: there is nothing to replay.", messages.ERROR
        )
        return HttpResponseRedirect(cancel_url)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"Run event {event.pk} again from the start?",
        "event": event,
        "run": run,
        "effects": engine.outside_effects(event.connector, run),
        "cancel_url": cancel_url,
        **resume_offer(run),
    }
    return TemplateResponse(request, "admin/connectors/replay_confirm.html", context)


def status_badge(value, label):
    return format_html('<span class="picky-badge picky-status-{}">{}</span>', value, label)
