"""Schedules: the runs parked on a delay, per connector and across the project."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from picky.tenancy import EDIT, ProjectScopedAdminMixin
from picky.wording import counted

from .. import delays
from ..models import Connector, ScheduledStep


class ConnectorFilter(admin.SimpleListFilter):
    """The user's connectors; cheaper than listing the distinct ones of a million rows."""

    title = "connector"
    parameter_name = "connector"

    def lookups(self, request, model_admin):
        connectors = Connector.objects.select_related("project").order_by("project__name", "name")
        if not request.user.is_superuser:
            connectors = connectors.filter(project__in=model_admin.user_projects(request))
        return [(str(c.pk), f"{c.project.name} / {c.name}") for c in connectors]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            return queryset.filter(connector_id=int(self.value()))
        return queryset


class StatusFilter(admin.SimpleListFilter):
    """Pending rows unless asked otherwise: what is still to come is what users look for."""

    title = "status"
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request, model_admin):
        return [*ScheduledStep.Status.choices, (self.ALL, "All")]

    def choices(self, changelist):
        current = self.value() or ScheduledStep.Status.PENDING
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value() or ScheduledStep.Status.PENDING
        if value == self.ALL:
            return queryset
        return queryset.filter(status=value)


def due_text(schedule):
    """The due time in the project's time zone, as the delay was planned."""
    return schedule.due_at.astimezone(schedule.project.tzinfo).strftime("%Y-%m-%d %H:%M %Z")


@admin.register(ScheduledStep)
class ScheduledStepAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "due",
        "identifier",
        "contact",
        "step",
        "connector",
        "status",
        "run",
        "buttons",
    ]
    list_filter = [StatusFilter, ConnectorFilter]
    list_select_related = ["run__contact", "step", "connector", "project"]
    search_fields = ["identifier"]
    ordering = ["due_at", "id"]
    actions = ["run_selected_now", "cancel_selected"]
    # Counting a million rows twice per page is wasted work.
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = [
        "project",
        "connector",
        "step",
        "run",
        "due_at",
        "identifier",
        "status",
        "created_at",
        "fired_at",
    ]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Deleting a pending row would leave its run waiting forever: cancel instead.
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request, obj):
        delays.cancel_schedules(ScheduledStep.objects.filter(pk=obj.pk), self.reason(request))
        super().delete_model(request, obj)

    @admin.display(description="Due", ordering="due_at")
    def due(self, obj):
        return due_text(obj)

    @admin.display(description="Contact", ordering="run__contact__name")
    def contact(self, obj):
        return obj.run.contact or "—"

    @admin.display(description="")
    def buttons(self, obj):
        if obj.status != ScheduledStep.Status.PENDING:
            return ""
        return format_html(
            '<a class="button picky-button" href="{}">Run now</a>'
            '<button type="submit" class="button picky-button" name="cancel_schedule" '
            'value="{}">Cancel</button>',
            reverse("admin:connectors_scheduledstep_run_now", args=[obj.pk]),
            obj.pk,
        )

    def get_urls(self):
        return [
            path(
                "<int:object_id>/run-now/",
                self.admin_site.admin_view(self.run_now_view),
                name="connectors_scheduledstep_run_now",
            ),
            *super().get_urls(),
        ]

    def editable_schedules(self, request):
        if not self.has_section_access(request, EDIT):
            raise PermissionDenied
        return self.scoped(self.get_queryset(request), request, EDIT)

    def run_now_view(self, request, object_id):
        """One delay's Run now: a confirmation page, then the run goes on at once."""
        schedules = self.editable_schedules(request).filter(pk=object_id)
        if request.method == "POST":
            return self.run_now(request, schedules)
        return self.confirm_run_now(request, schedules, action=None)

    @admin.action(description="Run the selected delays now")
    def run_selected_now(self, request, queryset):
        if request.POST.get("confirmed"):
            return self.run_now(request, queryset)
        return self.confirm_run_now(request, queryset, action="run_selected_now")

    def confirm_run_now(self, request, schedules, action):
        pending = list(
            schedules.filter(status=ScheduledStep.Status.PENDING).select_related(
                "run__contact", "step", "connector", "project"
            )
        )
        for schedule in pending:
            schedule.due_shown = due_text(schedule)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Run now?",
            "schedules": pending,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "changelist_url": reverse("admin:connectors_scheduledstep_changelist"),
        }
        return TemplateResponse(request, "admin/connectors/scheduledstep/run_now.html", context)

    def run_now(self, request, schedules):
        count = delays.run_schedules_now(schedules)
        if count:
            self.message_user(
                request,
                f"{counted(count, 'run')} no longer waiting: "
                f"{'it goes' if count == 1 else 'they go'} on now.",
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request, "Nothing to run: that delay is not pending any more.", messages.WARNING
            )
        return HttpResponseRedirect(reverse("admin:connectors_scheduledstep_changelist"))

    def reason(self, request):
        return f"Delay cancelled in the admin by {request.user.get_username()}."

    @admin.action(description="Cancel the selected delays")
    def cancel_selected(self, request, queryset):
        count = delays.cancel_schedules(queryset, self.reason(request))
        self.message_user(
            request, f"Cancelled {counted(count, 'pending delay')}.", messages.SUCCESS
        )

    def changelist_view(self, request, extra_context=None):
        # The per-row "Cancel" button posts the changelist form with its row id.
        pk = request.POST.get("cancel_schedule", "") if request.method == "POST" else ""
        if pk:
            schedules = self.editable_schedules(request)
            schedules = schedules.filter(pk=int(pk) if pk.isdigit() else 0)
            count = delays.cancel_schedules(schedules, self.reason(request))
            if count:
                self.message_user(request, f"Cancelled delay {pk}.", messages.SUCCESS)
            else:
                self.message_user(request, f"Delay {pk} is not pending any more.", messages.WARNING)
            return HttpResponseRedirect(request.get_full_path())
        return super().changelist_view(request, extra_context)
