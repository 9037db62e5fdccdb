"""Admin of channels, messages and broadcasts (with their progress)."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from picky.secret_values import MASK, MaskedJSONField
from picky.tenancy import ProjectScopedAdminMixin
from picky.wording import counted

from . import broadcasts, inbound, services
from .channels import ADAPTERS
from .models import Broadcast, Channel, InboundDelivery, Message


class ChannelForm(forms.ModelForm):
    class Meta:
        model = Channel
        fields = ["project", "name", "kind", "credentials", "daily_cap", "enabled"]
        field_classes = {"credentials": MaskedJSONField}
        widgets = {
            "credentials": forms.Textarea(
                attrs={"class": "picky-json", "rows": 8, "spellcheck": "false"}
            )
        }
        help_texts = {
            "credentials": "Per kind: whatsapp_cloud {phone_number_id, access_token, "
            "verify_token, app_secret, base_url}; push_api {url, token, application}; "
            "email {from_email, subject}; sandbox: {}. Saved secrets show as "
            f"“{MASK}”: leave that to keep one, type a new value to replace it."
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # What is saved is of the saved kind: its secrets are the ones to mask.
        adapter = ADAPTERS.get(self.instance.kind)
        secrets = frozenset(adapter.secret_credentials if adapter else ())
        self.fields["credentials"].is_secret = secrets.__contains__

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        credentials = cleaned.get("credentials")
        if kind in ADAPTERS:
            if not isinstance(credentials, dict):
                self.add_error("credentials", "Give the settings as a JSON object.")
                return cleaned
            for name, errors in ADAPTERS[kind].credential_errors(credentials).items():
                for error in errors:
                    self.add_error("credentials", f"{name}: {error}")
        return cleaned


@admin.register(Channel)
class ChannelAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    form = ChannelForm
    list_display = ["name", "kind", "project", "enabled", "daily_cap", "sent_last_24_hours"]
    list_filter = ["kind", "enabled", "project"]
    search_fields = ["name"]
    readonly_fields = ["webhook", "sent_last_24_hours", "created_at"]

    @admin.display(description="webhook URL")
    def webhook(self, obj):
        if not obj.pk:
            return "Shown once the channel is saved."
        return format_html(
            '<code class="picky-url">{}</code> '
            '<button type="button" class="button picky-copy" data-copy="{}">Copy</button>'
            '<p class="help">Give this URL to the provider for inbound messages and '
            "delivery statuses.</p>",
            obj.webhook_url,
            obj.webhook_url,
        )

    @admin.display(description="recipients in the last 24 h")
    def sent_last_24_hours(self, obj):
        if not obj.pk:
            return "-"
        used = broadcasts.recipients_in_window(obj).count()
        return f"{used} of {obj.daily_cap}" if obj.daily_cap is not None else str(used)

    class Media:
        css = {"all": ["picky/admin.css"]}
        js = ["picky/copy.js"]


@admin.register(Message)
class MessageAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at", "direction", "channel", "contact", "address", "short_text", "status",
        "error",
    ]  # fmt: skip
    list_filter = ["direction", "status", "channel", "project"]
    search_fields = ["address", "body", "provider_id", "contact__name", "contact__number"]
    list_select_related = ["channel", "contact"]
    date_hierarchy = "created_at"
    actions = ["retry"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Message._meta.fields]

    def has_add_permission(self, request, *args):
        # Messages are made by sending (actions, broadcasts) and by webhooks.
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="text")
    def short_text(self, obj):
        text = obj.body or (f"template {obj.template}" if obj.template else obj.media_url)
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.action(description="Send the selected failed messages again")
    def retry(self, request, queryset):
        count = services.retry_messages(queryset)
        self.message_user(request, f"{counted(count, 'failed message')} queued again.")


@admin.register(InboundDelivery)
class InboundDeliveryAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "received_at", "channel", "status", "messages", "statuses", "stored", "applied",
        "attempts", "error",
    ]  # fmt: skip
    list_filter = ["status", "channel", "project"]
    list_select_related = ["channel"]
    date_hierarchy = "received_at"
    exclude = ["payload"]
    actions = ["process_again"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in InboundDelivery._meta.fields if field.name != "payload"]

    def has_add_permission(self, request, *args):
        # Deliveries are made by channel webhooks.
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Process the selected failed deliveries again")
    def process_again(self, request, queryset):
        count = inbound.retry_deliveries(queryset)
        self.message_user(
            request, f"{counted(count, 'failed delivery', 'failed deliveries')} queued again."
        )


class BroadcastForm(forms.ModelForm):
    media_url = forms.URLField(
        required=False, max_length=1000, assume_scheme="https", label="Media URL"
    )

    class Meta:
        model = Broadcast
        fields = [
            "project", "channel", "name", "segment", "optout_list", "body", "media_url",
            "template", "template_language", "template_params", "batch_size",
        ]  # fmt: skip

    def clean(self):
        cleaned = super().clean()
        for key, message in broadcasts.segment_errors(cleaned.get("segment") or {}):
            self.add_error("segment", f"{key}: {message}")
        project, channel = cleaned.get("project"), cleaned.get("channel")
        if project and channel and channel.project_id != project.pk:
            self.add_error("channel", f"{channel} is not a channel of {project}.")
        if channel:
            try:
                services.check_content(
                    channel, cleaned.get("body"), cleaned.get("media_url"), cleaned.get("template")
                )
            except services.MessagingError as exc:
                self.add_error(None, exc.message)
        if not isinstance(cleaned.get("template_params") or [], list):
            self.add_error("template_params", 'Give a JSON list, e.g. ["{{ contact.name }}"].')
        return cleaned


@admin.register(Broadcast)
class BroadcastAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    form = BroadcastForm
    list_display = ["name", "channel", "status", "progress_bar", "total", "sent", "skipped",
                    "created_at"]  # fmt: skip
    list_filter = ["status", "channel", "project"]
    search_fields = ["name"]
    actions = ["start", "cancel"]
    readonly_fields = [
        "status", "progress_bar", "total", "sent", "skipped", "delivery", "skip_reasons",
        "resume_at", "error", "started_at", "finished_at",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["project", "channel", "name", "batch_size"]}),
        ("Who", {"fields": ["segment", "optout_list"]}),
        (
            "What",
            {"fields": ["body", "media_url", "template", "template_language", "template_params"]},
        ),
        (
            "Progress",
            {
                "fields": [
                    "status",
                    "progress_bar",
                    "total",
                    "sent",
                    "skipped",
                    "delivery",
                    "skip_reasons",
                    "resume_at",
                    "error",
                    "started_at",
                    "finished_at",
                ]
            },
        ),  # fmt: skip
    ]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != Broadcast.Status.DRAFT:
            return [*self.form.Meta.fields, *self.readonly_fields]
        return self.readonly_fields

    @admin.display(description="progress")
    def progress_bar(self, obj):
        if not obj.total:
            return "-"
        done = obj.sent + obj.skipped
        percent = round(100 * done / obj.total)
        return format_html(
            '<progress max="{}" value="{}" title="{}%"></progress> {} of {}',
            obj.total, done, percent, done, obj.total,
        )  # fmt: skip

    @admin.display(description="messages by status")
    def delivery(self, obj):
        if not obj.pk:
            return "-"
        counts = broadcasts.progress(obj)
        url = reverse("admin:teambox_message_changelist") + f"?broadcast__id__exact={obj.pk}"
        summary = format_html_join(
            ", ", "{}: {}", ((status, count) for status, count in counts.items())
        )
        return format_html('{} — <a href="{}">see the messages</a>', summary, url)

    @admin.display(description="skipped, by reason")
    def skip_reasons(self, obj):
        if not obj.pk:
            return "-"
        rows = (
            obj.recipients.filter(status="skipped")
            .values("reason")
            .annotate(count=Count("pk"))
            .order_by("-count")
        )
        lines = format_html_join(
            "", "<div>{} × {}</div>", ((r["count"], r["reason"]) for r in rows)
        )
        return lines or "-"

    @admin.action(description="Start sending the selected broadcasts")
    def start(self, request, queryset):
        for broadcast in queryset:
            try:
                broadcasts.start_broadcast(broadcast)
            except services.MessagingError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, f"{broadcast.name}: sending started.")

    @admin.action(description="Cancel the selected broadcasts")
    def cancel(self, request, queryset):
        count = sum(broadcasts.cancel_broadcast(broadcast) for broadcast in queryset)
        self.message_user(request, f"{counted(count, 'broadcast')} cancelled.")
