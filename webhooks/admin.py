"""Admin of a project's webhook settings and of the deliveries log, with Redeliver."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from picky.secret_values import SecretField, SecretInput
from picky.tenancy import EDIT, ProjectScopedAdminMixin, ProjectScopedInlineMixin
from picky.wording import counted

from . import deliveries
from .events import UNAVAILABLE
from .models import Delivery, DeliveryAttempt, Event, WebhookSettings


def event_choices():
    return [
        (event.value, f"{event.label} (not available on your channels)")
        if event in UNAVAILABLE
        else (event.value, event.label)
        for event in Event
    ]


class WebhookSettingsForm(forms.ModelForm):
    events = forms.TypedMultipleChoiceField(
        choices=event_choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The events POSTed to the event webhook URL. No channel of Picky can tell "
        "whether a number is on WhatsApp, so the filter report is never sent.",
    )
    secret = SecretField(
        required=False,
        widget=SecretInput,
        help_text="Signs every delivery (X-Picky-Signature, see README “Event webhooks”). "
        "Write-only: keep a copy where your receiver reads it.",
    )

    class Meta:
        model = WebhookSettings
        fields = ["project", "event_url", "events", "secret", "inbound_url", "enabled"]

    def clean(self):
        cleaned = super().clean()
        if (cleaned.get("event_url") or cleaned.get("inbound_url")) and not cleaned.get("secret"):
            self.add_error("secret", "Type a secret: it signs what is sent to your URLs.")
        if cleaned.get("events") and not cleaned.get("event_url"):
            self.add_error("event_url", "Give the URL the chosen events are sent to.")
        return cleaned


@admin.register(WebhookSettings)
class WebhookSettingsAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    form = WebhookSettingsForm
    list_display = ["project", "event_url", "inbound_url", "enabled", "disabled_at"]
    readonly_fields = ["disabled_at", "failing_since"]

    def save_model(self, request, obj, form, change):
        if obj.enabled and obj.disabled_at:
            # Enabled again by hand: the receiver gets a fresh chance.
            obj.disabled_at = obj.failing_since = None
        super().save_model(request, obj, form, change)


class DeliveryAttemptInline(ProjectScopedInlineMixin, admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    fields = ["at", "status_code", "duration_ms", "error", "response_excerpt", "note"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at", "kind", "event", "status", "attempts", "last_status_code",
        "next_attempt_at", "url",
    ]  # fmt: skip
    list_filter = ["status", "kind", "event", "project"]
    date_hierarchy = "created_at"
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver_selected"]
    change_form_template = "admin/webhooks/delivery/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Delivery._meta.fields]

    def has_add_permission(self, request, *args):
        # Deliveries are made by events and inbound messages.
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "<int:object_id>/redeliver/",
                self.admin_site.admin_view(require_POST(self.redeliver_view)),
                name="webhooks_delivery_redeliver",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_redeliver": self.can_redeliver(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def can_redeliver(self, request):
        return self.has_section_access(request, EDIT)

    def redeliver_view(self, request, object_id):
        delivery = self.scoped_object(request, object_id, EDIT)
        if deliveries.redeliver(delivery):
            self.message_user(request, f"Delivery {delivery.pk} is being sent again.")
        else:
            self.message_user(request, not_redelivered(delivery), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:webhooks_delivery_change", args=[delivery.pk]))

    @admin.action(description="Redeliver the selected deliveries")
    def redeliver_selected(self, request, queryset):
        chosen = self.scoped(queryset, request, EDIT)
        count = sum(deliveries.redeliver(delivery) for delivery in chosen)
        self.message_user(request, f"{counted(count, 'delivery', 'deliveries')} sent again.")
        skipped = chosen.count() - count
        if skipped:
            self.message_user(
                request,
                f"{counted(skipped, 'delivery', 'deliveries')} not sent again: being sent "
                "right now, or the project's webhook is disabled or has no URL.",
                messages.WARNING,
            )


def not_redelivered(delivery):
    if delivery.status == Delivery.Status.SENDING:
        return f"Delivery {delivery.pk} is being sent right now; try again in a moment."
    return (
        f"Delivery {delivery.pk} was not sent again: the project's webhooks are disabled or "
        "its URL is empty. Check Webhooks → Webhook settings."
    )
