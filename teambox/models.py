"""Channels, the messages that go through them, and broadcasts."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from crm.models import Contact
from picky.models import Project


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
