"""Runs: a run's steps and actions as a timeline; resume, or run its event again."""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from picky.tenancy import EDIT, ProjectScopedAdminMixin

from ..engine import log_as_dict
from ..models import Run
from .display import pretty_json, timeline_rows
from .events import confirm_replay, replay, resume, resume_offer, status_badge


@admin.register(Run)
class RunAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = ["id", "connector", "event_link", "status_badge", "created_at", "duration"]
    list_display_links = ["id", "created_at"]
    list_filter = ["status", "connector", "created_at"]
    list_select_related = ["connector"]
    date_hierarchy = "created_at"
    fields = [
        "connector",
        "event_link",
        "status_badge",
        "error",
        "replay_of",
        "resume_of",
        "contact",
        "created_at",
        "started_at",
        "finished_at",
        "duration",
        "attempts",
    ]
    readonly_fields = fields

    class Media:
        css = {"all": ["picky/admin.css"]}

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Status", ordering="status")
    def status_badge(self, run):
        return status_badge(run.status, run.get_status_display())

    @admin.display(description="Event")
    def event_link(self, run):
        url = reverse("admin:connectors_event_change", args=[run.event_id])
        return format_html('<a href="{}">Event {}</a>', url, run.event_id)

    @admin.display(description="Duration")
    def duration(self, run):
        if not (run.started_at and run.finished_at):
            return "—"
        seconds = (run.finished_at - run.started_at).total_seconds()
        return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"

    def get_urls(self):
        return [
            path(
                "<int:object_id>/replay/",
                self.admin_site.admin_view(self.replay_view),
                name="connectors_run_replay",
            ),
            path(
                "<int:object_id>/resume/",
                self.admin_site.admin_view(require_POST(self.resume_view)),
                name="connectors_run_resume",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_queryset(request).filter(pk=object_id).first()
        if run is not None:
            logs = run.logs.select_related("step", "action").order_by("id")
            extra_context = {
                **(extra_context or {}),
                "rows": timeline_rows(log_as_dict(log) for log in logs),
                "context_json": pretty_json(run.context),
                "can_replay": run.event.payload is not None,
                **resume_offer(run),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def replay_view(self, request, object_id):
        """GET: the outside effects running the event again would repeat; POST: run it."""
        run = self.scoped_object(request, object_id, EDIT)
        if request.method != "POST":
            back = reverse("admin:connectors_run_change", args=[run.pk])
            return confirm_replay(self, request, run.event, run, back)
        new_run = replay(self, request, run.event)
        target = new_run.pk if new_run else run.pk
        return HttpResponseRedirect(reverse("admin:connectors_run_change", args=[target]))

    def resume_view(self, request, object_id):
        return resume(self, request, self.scoped_object(request, object_id, EDIT))
