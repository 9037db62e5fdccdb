"""Schedules: the runs parked on a delay, per connector and across the project."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
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


@admin.register(ScheduledStep)
class ScheduledStepAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "due_at",
        "identifier",
        "contact",
        "step",
        "connector",
        "status",
        "run",
        "cancel_button",
    ]
    list_filter = [StatusFilter, ConnectorFilter]
    list_select_related = ["run__contact", "step", "connector"]
    search_fields = ["identifier"]
    ordering = ["due_at", "id"]
    actions = ["cancel_selected"]
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

    @admin.display(description="Contact", ordering="run__contact__name")
    def contact(self, obj):
        return obj.run.contact or "—"

    @admin.display(description="")
    def cancel_button(self, obj):
        if obj.status != ScheduledStep.Status.PENDING:
            return ""
        return format_html(
            '<button type="submit" class="button" name="cancel_schedule" value="{}">'
            "Cancel</button>",
            obj.pk,
        )

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
            if not self.has_section_access(request, EDIT):
                raise PermissionDenied
            schedules = self.scoped(self.get_queryset(request), request, EDIT)
            schedules = schedules.filter(pk=int(pk) if pk.isdigit() else 0)
            count = delays.cancel_schedules(schedules, self.reason(request))
            if count:
                self.message_user(request, f"Cancelled delay {pk}.", messages.SUCCESS)
            else:
                self.message_user(request, f"Delay {pk} is not pending any more.", messages.WARNING)
            return HttpResponseRedirect(request.get_full_path())
        return super().changelist_view(request, extra_context)
