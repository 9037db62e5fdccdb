"""Channels, the messages that go through them, broadcasts, and the teambox: departments,
agents, routing rules, conversations and their assignees, notifications."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from crm.models import Contact, validate_number
from picky.models import ApiToken, Project


def new_channel_token():
    # 32 random bytes = 256 bits, URL-safe: the channel's webhook URL is its secret.
    return secrets.token_urlsafe(32)


class Channel(models.Model):
    """A way to reach contacts: a WhatsApp number, a push endpoint, the sandbox, e-mail."""

    class Kind(models.TextChoices):
        WHATSAPP_CLOUD = "whatsapp_cloud", "WhatsApp Cloud API (official)"
        PUSH_API = "push_api", "Push API"
        SANDBOX = "sandbox", "Sandbox (messages stay in Picky)"
        EMAIL = "email", "E-mail (SMTP)"
        WHATSAPP_WEB = "whatsapp_web", "WhatsApp Web (WAHA gateway)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="channels")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    credentials = models.JSONField(
        default=dict, blank=True, help_text="Settings of the channel's kind, as JSON."
    )
    token = models.CharField(max_length=64, unique=True, default=new_channel_token, editable=False)
    daily_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Most broadcast recipients in any 24 hours (empty: no cap). "
        "Official WhatsApp numbers start at 1,000.",
    )
    number = models.CharField(
        max_length=15,
        blank=True,
        validators=[validate_number],
        help_text="The channel's own number, digits with country code (e.g. 919737001155): "
        "Push API calls may name the channel by it as their application.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_channel_name")
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if self._state.adding and self.daily_cap is None and self.is_official:
            self.daily_cap = settings.PICKY_OFFICIAL_DAILY_CAP
        super().save(*args, **kwargs)

    @property
    def is_official(self):
        """Official channels need a template outside the contact's 24-hour session."""
        return self.kind == self.Kind.WHATSAPP_CLOUD

    @property
    def webhook_path(self):
        return f"/channels/{self.token}/webhook"

    @property
    def webhook_url(self):
        return settings.PUBLIC_BASE_URL.rstrip("/") + self.webhook_path


class Broadcast(models.Model):
    """One message to a segment of the project's contacts, sent in batches."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Sending"
        WAITING = "waiting", "Waiting for the daily cap"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="broadcasts")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="broadcasts")
    name = models.CharField(max_length=200)
    segment = models.JSONField(
        default=dict,
        blank=True,
        help_text='Who receives it: {"tags": [...], "categories": [...], '
        '"attributes": {"key": "value"}, "interacted_within_hours": 24}; empty parts '
        "do not filter.",
    )
    optout_list = models.CharField(
        max_length=100, blank=True, help_text="Contacts on this opt-out list are skipped."
    )
    body = models.TextField(
        blank=True, help_text="Text, or a template's fallback; may use {{ contact.name }}."
    )
    media_url = models.URLField(max_length=1000, blank=True)
    template = models.CharField(
        max_length=200, blank=True, help_text="WhatsApp template name (official channels)."
    )
    template_language = models.CharField(max_length=20, blank=True, default="en")
    template_params = models.JSONField(default=list, blank=True)
    context = models.JSONField(
        default=dict, blank=True, help_text="Template namespaces of the run that started it."
    )
    batch_size = models.PositiveIntegerField(default=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    total = models.PositiveIntegerField(default=0, help_text="Recipients in the segment.")
    sent = models.PositiveIntegerField(default=0, help_text="Messages queued so far.")
    skipped = models.PositiveIntegerField(default=0)
    resume_at = models.DateTimeField(
        null=True, blank=True, help_text="When the daily cap allows the next batch."
    )
    error = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="unique_broadcast_key",
            )
        ]
        indexes = [
            models.Index(
                fields=["updated_at"],
                name="broadcast_sweep",
                condition=Q(status__in=["running", "waiting"]),
            )
        ]

    def __str__(self):
        return self.name


class BroadcastRecipient(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Message queued"
        SKIPPED = "skipped", "Skipped"

    project_path = "broadcast__project"

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="recipients")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=300, blank=True)
    message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "contact"], name="unique_recipient")
        ]
        indexes = [models.Index(fields=["broadcast", "status"], name="recipient_status")]

    def __str__(self):
        return f"{self.contact} ({self.status})"


class Push(models.Model):
    """One call of the Push API: the messages it queued carry its id (the answer's push_id)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="pushes")
    api_token = models.ForeignKey(
        ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reference_number = models.CharField(max_length=100, blank=True)
    numbers = models.PositiveIntegerField(default=0, help_text="Entries in the call's data.")
    queued = models.PositiveIntegerField(default=0, help_text="Messages queued by the call.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Push {self.pk} to {self.channel}"


class Message(models.Model):
    class Direction(models.TextChoices):
        IN = "in", "Received"
        OUT = "out", "Sent"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SUBMITTED = "submitted", "Submitted"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        FAILED = "failed", "Failed"
        RECEIVED = "received", "Received"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="messages")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="messages")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    address = models.CharField(
        max_length=254, help_text="The contact's number or e-mail address on this channel."
    )
    body = models.TextField(blank=True)
    subject = models.CharField(max_length=300, blank=True)
    reply_to = models.CharField(max_length=254, blank=True)
    media_url = models.URLField(max_length=1000, blank=True)
    template = models.CharField(max_length=200, blank=True)
    template_language = models.CharField(max_length=20, blank=True)
    template_params = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(
        null=True, blank=True, help_text="What the provider sent or answered, as received."
    )
    broadcast = models.ForeignKey(
        Broadcast, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    push = models.ForeignKey(
        Push,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        help_text="The Push API call that sent it.",
    )
    reference_number = models.CharField(
        max_length=100, blank=True, help_text="The Push API caller's own reference."
    )
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When the sweep sends a queued message at the latest."
    )
    sending_since = models.DateTimeField(
        null=True, blank=True, help_text="A worker claimed the message and is sending it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="unique_message_key",
            ),
            # A provider's retried webhook must not store an inbound message twice.
            models.UniqueConstraint(
                fields=["channel", "provider_id"],
                condition=Q(direction="in") & ~Q(provider_id=""),
                name="unique_inbound_message",
            ),
        ]
        indexes = [
            models.Index(fields=["channel", "provider_id"], name="message_provider_id"),
            models.Index(
                fields=["channel", "direction", "created_at"], name="message_channel_recent"
            ),
            models.Index(
                fields=["contact", "channel", "direction", "created_at"],
                name="message_session",
            ),
            # A chat's latest message (the inbox's last line, read backwards).
            models.Index(fields=["contact", "channel", "created_at", "id"], name="message_latest"),
            models.Index(
                fields=["next_attempt_at"],
                name="message_queued_sweep",
                condition=Q(status="queued"),
            ),
        ]

    def __str__(self):
        arrow = "→" if self.direction == self.Direction.OUT else "←"
        return f"{arrow} {self.address}: {(self.body or self.template)[:50]}"


class InboundDelivery(models.Model):
    """A channel webhook body too large to process while the provider waits: stored at
    once, then its messages and statuses are processed by a worker, exactly once."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    payload = models.JSONField(
        null=True, blank=True, help_text="The body as received; emptied once processed."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    messages = models.PositiveIntegerField(default=0, help_text="Messages the body carries.")
    statuses = models.PositiveIntegerField(default=0, help_text="Status changes it carries.")
    stored = models.PositiveIntegerField(
        default=0, help_text="New messages stored (a provider's repeat is stored once)."
    )
    applied = models.PositiveIntegerField(
        default=0, help_text="Status changes that moved a message forward."
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text="Past this, the sweep hands the delivery out again."
    )
    received_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "inbound deliveries"
        indexes = [
            models.Index(
                fields=["lease_until"],
                name="delivery_sweep",
                condition=Q(status__in=["queued", "processing"]),
            ),
            models.Index(
                fields=["project", "finished_at"], name="delivery_prune", condition=Q(status="done")
            ),
        ]

    def __str__(self):
        return f"{self.channel} webhook of {self.received_at:%Y-%m-%d %H:%M:%S}"


class Department(models.Model):
    """A team of agents in a project (Sales, Support); chats are routed to departments."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="departments")
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                models.F("project"), Lower("name"), name="unique_department_name"
            )
        ]

    def __str__(self):
        return self.name


class Agent(models.Model):
    """A project member who works chats: their departments, hierarchy level, presence and
    the figures assignment reads. Their role is their project membership's role."""

    class Presence(models.TextChoices):
        ONLINE = "online", "Online"
        AWAY = "away", "Away"
        OFFLINE = "offline", "Offline"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="agents")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profiles"
    )
    departments = models.ManyToManyField(Department, blank=True, related_name="agents")
    hierarchy_level = models.PositiveSmallIntegerField(
        default=1, help_text="1 is the first line; higher levels are escalated to."
    )
    presence = models.CharField(max_length=10, choices=Presence.choices, default=Presence.OFFLINE)
    last_seen_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The agent's last heartbeat: online counts only while it is recent.",
    )
    last_assigned_at = models.DateTimeField(
        null=True, blank=True, help_text="When a chat was last assigned to the agent."
    )
    max_open_chats = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The most open chats assigned at once (empty: no limit).",
    )
    enabled = models.BooleanField(
        default=True, help_text="Disabled agents are never assigned chats."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="unique_agent")]
        indexes = [
            models.Index(fields=["project", "presence", "last_seen_at"], name="agent_presence")
        ]

    def __str__(self):
        return self.user.get_full_name() or self.user.get_username()


class RoutingRule(models.Model):
    """How a project's new chats are routed: one default rule (no channel) and optional
    rules per channel that override it."""

    class Strategy(models.TextChoices):
        ROUND_ROBIN = "round_robin", "Round robin"
        LEAST_RECENTLY_ASSIGNED = "least_recently_assigned", "Least recently assigned"
        LAST_SEEN = "last_seen", "Most recently seen"
        RANDOM = "random", "Random"
        LEAST_BUSY = "least_busy", "Fewest open chats"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="routing_rules")
    channel = models.ForeignKey(
        Channel,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="routing_rules",
        help_text="Empty: the project's default rule, for every channel without its own.",
    )
    strategy = models.CharField(
        max_length=30, choices=Strategy.choices, default=Strategy.ROUND_ROBIN
    )
    department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Route to this department's agents (empty: any agent of the project).",
    )
    fallback_department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Tried when no agent of the department can take the chat.",
    )
    only_online = models.BooleanField(
        default=True, help_text="Assign only to agents who are online."
    )
    respect_capacity = models.BooleanField(
        default=True, help_text="Skip agents who have their maximum of open chats."
    )
    offline_message = models.TextField(
        blank=True,
        help_text="Sent to the customer when no agent can take the chat, or nobody replies "
        "in time (empty: nothing is sent).",
    )
    no_response_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Send the offline message when no agent replies within this many minutes.",
    )
    reassign_after_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Reassign the chat when its agent has not replied within this many minutes.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["channel__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "channel"], name="unique_channel_routing_rule"
            ),
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(channel__isnull=True),
                name="unique_default_routing_rule",
            ),
        ]

    def __str__(self):
        return f"Routing for {self.channel or 'every channel'}"


class AssignmentPool(models.Model):
    """Where round robin stands in one pool of agents: a project's whole team, or the
    agents of some departments. Picks from a pool are made one at a time, under the
    pool's lock (teambox.assignment.pools)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(
        max_length=200, blank=True, help_text="Department ids of the pool (empty: every agent)."
    )
    last_agent_id = models.BigIntegerField(
        null=True, blank=True, help_text="The agent picked last: round robin goes on after it."
    )
    picks = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "scope"], name="unique_assignment_pool")
        ]

    def __str__(self):
        return f"Assignment pool {self.scope or 'of every agent'}"


class Conversation(models.Model):
    """The chat of one contact on one channel: one per (project, channel, contact), reopened
    when the contact writes again after it was resolved."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"
        SNOOZED = "snoozed", "Snoozed"
        RESOLVED = "resolved", "Resolved"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="conversations")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="conversations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    assignees = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="ConversationAssignee",
        blank=True,
        related_name="conversations",
    )
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    locked = models.BooleanField(default=False, help_text="Only the chat's assignees may reply.")
    waiting_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the customer's oldest unanswered message arrived (empty: answered).",
    )
    last_message_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    assignment_version = models.PositiveIntegerField(
        default=0,
        help_text="Counts assignment changes: a change applies only to the version it read, "
        "so two parallel assignments never flip a chat back.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "channel", "contact"], name="unique_conversation"
            )
        ]
        indexes = [
            models.Index(
                fields=["project", "status", "last_message_at"], name="conversation_inbox"
            ),
            models.Index(
                fields=["waiting_since"],
                name="conversation_waiting",
                condition=Q(waiting_since__isnull=False),
            ),
            models.Index(
                fields=["snoozed_until"],
                name="conversation_snoozed",
                condition=Q(status="snoozed"),
            ),
        ]

    def __str__(self):
        return f"{self.contact} on {self.channel}"


class ConversationAssignee(models.Model):
    """An agent assigned to a conversation, and how many of its messages they have not read."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="assignments"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_assignments"
    )
    unread_count = models.PositiveIntegerField(default=0)
    assigned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "user"], name="unique_conversation_assignee"
            )
        ]
        indexes = [models.Index(fields=["user", "conversation"], name="assignee_user")]

    def __str__(self):
        return f"{self.user} on {self.conversation}"


class Notification(models.Model):
    """An instant notification to one agent, unread until they read it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="notifications")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    browser = models.BooleanField(default=False, help_text="Also shown as a browser notification.")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    record_id = models.CharField(
        max_length=100, blank=True, help_text="The CRM record the notification is about."
    )
    # A trigger_macro notification: the drawer opens this button's form on the record.
    # SET_NULL: with the button gone, the notification still opens the record.
    macro_button = models.ForeignKey(
        "crm.MacroButton", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["user", "created_at"],
                name="notification_unread",
                condition=Q(read_at__isnull=True),
            )
        ]

    def __str__(self):
        return self.title


class WhatsAppGroup(models.Model):
    """A WhatsApp group a WhatsApp Web channel's number belongs to, as synced from its gateway.

    A group that filled up (256 members) has child groups "<subject> 1", "<subject> 2", ...
    (`parent`, `position`) that share its settings and receive what is sent to it."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="groups")
    gateway_id = models.CharField(
        max_length=100, help_text="The group's id at the gateway, e.g. 120363025246125486@g.us."
    )
    subject = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    only_admins_post = models.BooleanField(
        default=False, help_text="Only admins can send messages to the group."
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="The full group this child group continues.",
    )
    position = models.PositiveIntegerField(
        null=True, blank=True, help_text="The child group's number among its parent's children."
    )
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "WhatsApp group"
        ordering = ["subject", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "gateway_id"], name="unique_whatsapp_group_per_channel"
            ),
            models.UniqueConstraint(
                fields=["parent", "position"],
                condition=Q(parent__isnull=False),
                name="unique_child_group_position",
            ),
        ]

    def __str__(self):
        return self.subject


class GroupParticipant(models.Model):
    """A member of a WhatsApp group, by number."""

    group = models.ForeignKey(WhatsAppGroup, on_delete=models.CASCADE, related_name="participants")
    number = models.CharField(max_length=15, validators=[validate_number])
    is_admin = models.BooleanField(default=False)

    class Meta:
        verbose_name = "member"
        ordering = ["-is_admin", "number"]
        constraints = [
            models.UniqueConstraint(fields=["group", "number"], name="unique_group_participant")
        ]

    def __str__(self):
        return f"+{self.number}"
