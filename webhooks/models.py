"""A project's webhook settings (the event webhook and the global inbound webhook) and the
deliveries made to them: one Delivery row per body to send, one DeliveryAttempt row per try."""

from django.db import models
from django.db.models import Q

from picky.models import Project
from teambox.models import Message


class Event(models.IntegerChoices):
    """The event webhook's events, numbered as Picky Assist documents them."""

    DELIVERY_REPORT = 1, "1 · Delivery report"
    FILTER_REPORT = 2, "2 · WhatsApp filter report"
    GROUP_MEMBER = 3, "3 · Group member joined or left"
    NEW_SUBSCRIBER = 4, "4 · New subscriber"


class WebhookSettings(models.Model):
    """Where a project's events and inbound messages are POSTed, and the secret that signs
    them."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="webhook_settings"
    )
    event_url = models.URLField(
        "event webhook URL",
        max_length=1000,
        blank=True,
        help_text="Picky POSTs the chosen events here, signed with the secret.",
    )
    events = models.JSONField(
        default=list, blank=True, help_text="The events sent to the event webhook URL."
    )
    secret = models.CharField(
        max_length=200,
        blank=True,
        help_text="Signs every delivery (HMAC-SHA256, the X-Picky-Signature header).",
    )
    inbound_url = models.URLField(
        "inbound webhook URL",
        max_length=1000,
        blank=True,
        help_text="Every inbound message on any channel is POSTed here; a JSON answer "
        "holding a reply is sent back to the customer at once.",
    )
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When Picky disabled the webhooks: the receiver failed for days.",
    )
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="The first delivery given up since the last success."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "webhook settings"
        verbose_name_plural = "webhook settings"

    def __str__(self):
        return f"Webhooks of {self.project}"

    def sends(self, event):
        return self.enabled and bool(self.event_url) and int(event) in self.events


class Delivery(models.Model):
    """One body to POST to a project's webhook, retried until it succeeds or is given up."""

    class Kind(models.TextChoices):
        EVENT = "event", "Event webhook"
        INBOUND = "inbound", "Inbound webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed, will retry"
        GIVEN_UP = "given_up", "Given up"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    event = models.PositiveSmallIntegerField(
        null=True, blank=True, choices=Event.choices, help_text="Empty for inbound messages."
    )
    message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="webhook_deliveries",
        help_text="The inbound message an inbound delivery carries.",
    )
    url = models.URLField(max_length=1000)
    body = models.TextField(help_text="The exact JSON sent.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When the sweep tries again."
    )
    handed_out_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was last handed to a worker."
    )
    sending_since = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=Q(status__in=["pending", "failed", "sending"]),
            ),
            models.Index(fields=["project", "-created_at"], name="webhook_delivery_recent"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk} ({self.get_status_display()})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    note = models.CharField(
        max_length=300,
        blank=True,
        help_text="What Picky did with the answer: the instant reply it sent, or why none.",
    )

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error[:40]}"

    @property
    def succeeded(self):
        return self.status_code is not None and 200 <= self.status_code < 300
