"""Admin of channels, messages and broadcasts (with their progress), and of the teambox:
departments, agents, routing rules, conversations (read-only, with the contact's
timeline) and each user's own notifications."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from crm.admin import timeline_panel
from picky.models import Membership
from picky.secret_values import MASK, MaskedJSONField
from picky.tenancy import EDIT, VIEW, ProjectScopedAdminMixin
from picky.wording import counted

from . import agents, broadcasts, groups, inbound, notifications, services
from .channels import ADAPTERS, ChannelError
from .models import (
    Agent,
    Broadcast,
    Channel,
    Conversation,
    Department,
    GroupParticipant,
    InboundDelivery,
    Message,
    Notification,
    RoutingRule,
    WhatsAppGroup,
)


class ChannelForm(forms.ModelForm):
    class Meta:
        model = Channel
        fields = ["project", "name", "kind", "number", "credentials", "daily_cap", "enabled"]
        field_classes = {"credentials": MaskedJSONField}
        widgets = {
            "credentials": forms.Textarea(
                attrs={"class": "picky-json", "rows": 8, "spellcheck": "false"}
            )
        }
        help_texts = {
            "credentials": "Per kind: whatsapp_cloud {phone_number_id, access_token, "
            "verify_token, app_secret, base_url}; push_api {url, token, application}; "
            "email {from_email, subject}; whatsapp_web {base_url, session, api_key, "
            "webhook_hmac_key}; sandbox: {}. Saved secrets show as "
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
    actions = ["sync_groups"]

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

    @admin.action(description="Sync groups from the WhatsApp Web gateway")
    def sync_groups(self, request, queryset):
        for channel in queryset:
            if channel.kind != Channel.Kind.WHATSAPP_WEB:
                self.message_user(
                    request,
                    f"{channel.name}: only WhatsApp Web channels have groups to sync.",
                    messages.WARNING,
                )
                continue
            try:
                result = groups.sync_groups(channel)
            except ChannelError as exc:
                self.message_user(request, f"{channel.name}: {exc.message}", messages.ERROR)
                continue
            self.message_user(
                request,
                f"{channel.name}: {counted(result.created, 'group')} added, "
                f"{result.updated} updated, {result.removed} removed.",
            )


class GroupParticipantInline(admin.TabularInline):
    model = GroupParticipant
    fields = ["number", "is_admin"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        # Members come from the gateway (sync, webhooks) and from group actions.
        return False


@admin.register(WhatsAppGroup)
class WhatsAppGroupAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    project_path = "channel__project"
    list_display = ["subject", "channel", "parent", "position", "members", "only_admins_post",
                    "synced_at"]  # fmt: skip
    list_filter = ["channel", "only_admins_post"]
    search_fields = ["subject", "gateway_id"]
    list_select_related = ["channel", "parent"]
    inlines = [GroupParticipantInline]

    fields = ["subject", "channel", "gateway_id", "description", "only_admins_post", "parent",
              "position", "child_groups", "synced_at", "created_at"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, *args):
        # Groups are synced from the gateway or created by the group_create action; a row
        # deleted here would come back with the next sync.
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("participants"))

    @admin.display(description="members", ordering="member_count")
    def members(self, obj):
        return obj.member_count

    @admin.display(description="child groups")
    def child_groups(self, obj):
        children = obj.children.all()
        if not children:
            return "-"
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (reverse("admin:teambox_whatsappgroup_change", args=[child.pk]), child.subject)
                for child in children
            ),
        )


MESSAGE_TEXT_CHARS = 120
MESSAGE_ERROR_CHARS = 60


def shortened(text, limit):
    """`text` cut to `limit` characters, the whole of it in the title of the cut one."""
    if len(text) <= limit:
        return text
    return format_html('<span title="{}">{}…</span>', text, text[: limit - 1].rstrip())


@admin.register(Message)
class MessageAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    # Few, readable columns: who with whom in one, the outcome with its error in one,
    # long texts shortened with the whole in their title (admin.css sets the widths).
    list_display = ["created_at", "channel", "correspondent", "short_text", "outcome"]
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

    class Media:
        css = {"all": ["picky/admin.css"]}

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="with", ordering="address")
    def correspondent(self, obj):
        way = "To" if obj.direction == Message.Direction.OUT else "From"
        if obj.contact is None:
            return f"{way} {obj.address}"
        return format_html('{} {}<div class="picky-quiet">{}</div>', way, obj.contact, obj.address)

    @admin.display(description="text")
    def short_text(self, obj):
        text = obj.body or (f"template {obj.template}" if obj.template else obj.media_url)
        return shortened(text, MESSAGE_TEXT_CHARS)

    @admin.display(description="status", ordering="status")
    def outcome(self, obj):
        if not obj.error:
            return obj.get_status_display()
        return format_html(
            '{}<div class="picky-error">{}</div>',
            obj.get_status_display(),
            shortened(obj.error, MESSAGE_ERROR_CHARS),
        )

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


# The teambox: departments, agents, routing rules, conversations, notifications -----------


@admin.register(Department)
class DepartmentAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    fields = ["project", "name"]
    list_display = ["name", "project", "agent_count"]
    list_filter = ["project"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(agent_total=Count("agents"))

    @admin.display(description="agents", ordering="agent_total")
    def agent_count(self, obj):
        return obj.agent_total


class AgentForm(forms.ModelForm):
    class Meta:
        model = Agent
        fields = [
            "project", "user", "departments", "hierarchy_level", "presence", "max_open_chats",
            "enabled",
        ]  # fmt: skip

    def clean(self):
        cleaned = super().clean()
        project, user = cleaned.get("project"), cleaned.get("user")
        if project is None:
            return cleaned
        if user and not Membership.objects.filter(project=project, user=user).exists():
            self.add_error(
                "user",
                f"{user} is not a member of {project}: add them under the project's members first.",
            )
        foreign = [d.name for d in cleaned.get("departments") or [] if d.project_id != project.pk]
        if foreign:
            self.add_error("departments", f"Not departments of {project}: {', '.join(foreign)}.")
        return cleaned


@admin.register(Agent)
class AgentAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    form = AgentForm
    list_display = [
        "__str__", "reference_number", "project", "role", "department_list", "hierarchy_level",
        "presence_now", "last_seen_at", "last_assigned_at", "max_open_chats", "enabled",
    ]  # fmt: skip
    list_filter = ["project", "enabled", "presence", "departments"]
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name"]
    filter_horizontal = ["departments"]
    readonly_fields = ["presence_now", "last_seen_at", "last_assigned_at", "created_at"]
    list_select_related = ["user", "project"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("departments")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "user" and field is not None and not request.user.is_superuser:
            # Only members of the projects where the user manages agents.
            field.queryset = field.queryset.filter(
                pk__in=Membership.objects.filter(
                    project__in=self.user_projects(request, EDIT)
                ).values("user")
            )
        return field

    @admin.display(description="reference number", ordering="user_id")
    def reference_number(self, obj):
        # The agent's user id: what actions take to name the agent (an instant notification
        # mapped by id, get_users' "id").
        return obj.user_id

    @admin.display(description="role")
    def role(self, obj):
        membership = Membership.objects.filter(project_id=obj.project_id, user_id=obj.user_id)
        return membership.values_list("role", flat=True).first() or "not a member"

    @admin.display(description="departments")
    def department_list(self, obj):
        return ", ".join(department.name for department in obj.departments.all()) or "-"

    @admin.display(description="presence now")
    def presence_now(self, obj):
        if obj.pk is None:
            return "-"
        return agents.effective_presence(obj).label


class RoutingRuleForm(forms.ModelForm):
    class Meta:
        model = RoutingRule
        fields = [
            "project", "channel", "strategy", "department", "fallback_department",
            "only_online", "respect_capacity", "offline_message", "no_response_minutes",
            "reassign_after_minutes",
        ]  # fmt: skip

    def clean(self):
        cleaned = super().clean()
        project = cleaned.get("project")
        if project is None:
            return cleaned
        for name in ("channel", "department", "fallback_department"):
            row = cleaned.get(name)
            if row is not None and row.project_id != project.pk:
                self.add_error(name, f"{row} is not of {project}.")
        return cleaned


@admin.register(RoutingRule)
class RoutingRuleAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    form = RoutingRuleForm
    list_display = [
        "__str__", "project", "strategy", "department", "fallback_department", "only_online",
        "respect_capacity", "no_response_minutes", "reassign_after_minutes",
    ]  # fmt: skip
    list_filter = ["project", "strategy"]
    list_select_related = ["channel", "department", "fallback_department", "project"]
    fieldsets = [
        (None, {"fields": ["project", "channel"]}),
        (
            "Who gets the chat",
            {
                "fields": [
                    "strategy",
                    "department",
                    "fallback_department",
                    "only_online",
                    "respect_capacity",
                ]
            },
        ),  # fmt: skip
        (
            "When nobody answers",
            {"fields": ["offline_message", "no_response_minutes", "reassign_after_minutes"]},
        ),
    ]


class AssigneeFilter(admin.SimpleListFilter):
    title = "assigned to"
    parameter_name = "assigned"

    def lookups(self, request, model_admin):
        return [("me", "Me"), ("nobody", "Nobody")]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(assignments__user=request.user)
        if self.value() == "nobody":
            return queryset.filter(assignments__isnull=True)
        return queryset


@admin.register(Conversation)
class ConversationAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    """Read-only: conversations are opened by messages and worked in the teambox."""

    list_display = [
        "contact", "channel", "status", "assignee_list", "department", "waiting_since",
        "last_message_at",
    ]  # fmt: skip
    list_filter = ["status", AssigneeFilter, "channel", "department", "project"]
    search_fields = ["contact__name", "contact__number", "contact__email"]
    list_select_related = ["contact", "channel", "department"]
    fields = [
        "project", "contact", "channel", "status", "assignee_list", "department", "locked",
        "waiting_since", "last_message_at", "snoozed_until", "created_at", "resolved_at",
        "timeline",
    ]  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("assignees")

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="assignees")
    def assignee_list(self, obj):
        names = (user.get_full_name() or user.get_username() for user in obj.assignees.all())
        return ", ".join(names) or "-"

    @admin.display(description="the contact's timeline")
    def timeline(self, obj):
        return timeline_panel(obj.contact)


class UnreadFilter(admin.SimpleListFilter):
    title = "read"
    parameter_name = "read"

    def lookups(self, request, model_admin):
        return [("no", "Unread"), ("yes", "Read")]

    def queryset(self, request, queryset):
        if self.value() in ("no", "yes"):
            return queryset.filter(read_at__isnull=self.value() == "no")
        return queryset


@admin.register(Notification)
class NotificationAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    """Each user sees their own notifications only, whatever their role."""

    list_display = ["title", "project", "contact", "record_id", "browser", "created_at", "read"]
    list_filter = [UnreadFilter, "project"]
    search_fields = ["title", "description", "record_id"]
    list_select_related = ["contact", "project"]
    fields = [
        "project", "title", "description", "contact", "record_id", "browser", "created_at",
        "read_at",
    ]  # fmt: skip
    readonly_fields = fields
    actions = ["mark_read"]
    change_list_template = "admin/teambox/notification/change_list.html"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        # Reading one's own notifications changes nothing anyone else sees: VIEW is enough.
        if not self.has_section_access(request, VIEW):
            return {}
        return admin.ModelAdmin.get_actions(self, request)

    def response_action(self, request, queryset):
        return admin.ModelAdmin.response_action(self, request, self.get_queryset(request))

    @admin.display(boolean=True, description="read")
    def read(self, obj):
        return obj.read_at is not None

    @admin.action(description="Mark the selected notifications read")
    def mark_read(self, request, queryset):
        count = notifications.mark_read_for(request.user, queryset)
        self.message_user(request, f"{counted(count, 'notification')} marked read.")

    def get_urls(self):
        view = self.admin_site.admin_view(require_POST(self.mark_all_read_view))
        return [
            path("mark-all-read/", view, name="teambox_notification_mark_all_read"),
            *super().get_urls(),
        ]

    def mark_all_read_view(self, request):
        if not self.has_section_access(request, VIEW):
            raise PermissionDenied
        count = sum(
            notifications.clear_notifications(request.user, project)
            for project in self.user_projects(request)
        )
        self.message_user(request, f"{counted(count, 'notification')} marked read.")
        return redirect("admin:teambox_notification_changelist")
