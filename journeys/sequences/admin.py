"""The sequence page: its messages in order (drag to reorder), its subscribers and their
deliveries."""

from adminsortable2.admin import SortableAdminBase, SortableStackedInline
from django.contrib import admin

from picky.tenancy import EDIT, ProjectScopedAdminMixin, ProjectScopedInlineMixin

from .models import Delivery, Sequence, SequenceMessage, Subscription


class SequenceMessageInline(ProjectScopedInlineMixin, SortableStackedInline):
    model = SequenceMessage
    extra = 0
    verbose_name_plural = "Messages (in order; drag to reorder)"
    fields = [
        ("kind", "timing"),
        "text",
        "media_url",
        ("template", "template_language"),
        "template_params",
        ("delay_amount", "delay_unit"),
        ("day", "send_time"),
        "weekdays",
    ]


@admin.register(Sequence)
class SequenceAdmin(SortableAdminBase, ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "project", "channel", "enabled"]
    list_filter = ["enabled", "project"]
    search_fields = ["name"]
    fields = ["project", "name", "channel", "enabled", "stop_keywords", "optout_list"]
    inlines = [SequenceMessageInline]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        projects = list(self.user_projects(request, EDIT)[:2])
        if len(projects) == 1:
            initial.setdefault("project", projects[0].pk)
        return initial


@admin.register(Subscription)
class SubscriptionAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = ["contact", "sequence", "status", "started_at", "ended_at", "reason"]
    list_filter = ["status", "sequence"]
    list_select_related = ["contact", "sequence"]
    raw_id_fields = ["contact"]
    readonly_fields = ["sequence", "contact", "started_at", "status", "ended_at", "reason"]

    def has_add_permission(self, request, *args):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = ["subscription", "message", "due_at", "status", "reason", "sent_at"]
    list_filter = ["status"]
    list_select_related = ["subscription__contact", "subscription__sequence", "message"]
    readonly_fields = [
        "subscription",
        "message",
        "due_at",
        "status",
        "reason",
        "sent_message",
        "sent_at",
    ]

    def has_add_permission(self, request, *args):
        return False
