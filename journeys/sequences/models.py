"""Sequences (drip campaigns): an ordered list of messages a contact receives at set times
after subscribing. Each subscription plans one Delivery row per step; beat sweeps the due
rows (journeys/sequences/sweep.py), so no long ETA task ever sits in the broker."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower

from crm.models import Contact
from picky.models import Project
from picky.templating import template_errors
from teambox.models import Channel, Message
from teambox.services import MessagingError, check_content

from .timing import Timing, Unit, timing_errors

DEFAULT_STOP_KEYWORDS = "STOP, UNSUBSCRIBE"


class Sequence(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sequences")
    name = models.CharField(max_length=100)
    channel = models.ForeignKey(
        Channel,
        on_delete=models.PROTECT,
        related_name="sequences",
        help_text="The channel every message of the sequence goes out on.",
    )
    enabled = models.BooleanField(
        default=True,
        help_text="While off, nobody can subscribe and due messages are skipped, not sent later.",
    )
    stop_keywords = models.CharField(
        max_length=300,
        blank=True,
        default=DEFAULT_STOP_KEYWORDS,
        help_text="Comma-separated. A contact who replies with one of them (any case) on the "
        "sequence's channel leaves the sequence. Empty: replies never stop it.",
    )
    optout_list = models.CharField(
        max_length=100,
        blank=True,
        help_text="Contacts on this opt-out list get no message of the sequence "
        "(the blacklist always applies).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_sequence_name")
        ]
        # Sequences are found by name whatever its case (picky/names.py).
        indexes = [models.Index(models.F("project"), Lower("name"), name="sequence_lower_name")]

    def __str__(self):
        return self.name

    def clean(self):
        if self.channel_id and self.project_id and self.channel.project_id != self.project_id:
            raise ValidationError({"channel": "Choose a channel of the sequence's project."})

    def stop_keyword_set(self):
        """The stop keywords in lower case."""
        return {word.strip().lower() for word in self.stop_keywords.split(",") if word.strip()}


class SequenceMessage(models.Model):
    """One step of a sequence: what is sent, and when (counted from the subscription)."""

    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        MEDIA = "media", "Media"
        TEMPLATE = "template", "Approved template"

    Timing, Unit = Timing, Unit

    project_path = "sequence__project"

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="messages")
    position = models.PositiveIntegerField(default=0, db_index=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    text = models.TextField(
        blank=True,
        help_text="The message; with media, its caption. {{ contact.name }} and other "
        "contact fields are filled in.",
    )
    media_url = models.URLField(max_length=1000, blank=True)
    template = models.CharField(
        max_length=200, blank=True, help_text="The name of an approved WhatsApp template."
    )
    template_language = models.CharField(max_length=20, blank=True, default="en")
    template_params = models.JSONField(
        default=list,
        blank=True,
        help_text="The template's values in order ({{1}}, {{2}}, ...); each may use "
        "{{ contact.name }} and other contact fields.",
    )
    timing = models.CharField(max_length=10, choices=Timing.choices, default=Timing.AFTER)
    delay_amount = models.PositiveIntegerField(
        default=0, help_text="After a delay: how long after the subscription."
    )
    delay_unit = models.CharField(max_length=10, choices=Unit.choices, default=Unit.DAYS)
    day = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="On day N: 0 is the day of the subscription, 1 the day after, ...",
    )
    send_time = models.TimeField(
        null=True, blank=True, help_text="On day N: the time, in the project's time zone."
    )
    weekdays = models.JSONField(
        default=list,
        blank=True,
        help_text="Only on these weekdays (0 Monday ... 6 Sunday); a step due on another "
        "day waits for the next one chosen. Empty: any day.",
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "sequence message"

    def __str__(self):
        if self.kind == self.Kind.TEMPLATE:
            return f"Template {self.template}"
        summary = self.text or self.media_url
        return summary if len(summary) <= 60 else f"{summary[:59]}…"

    def clean(self):
        errors = {**content_errors(self), **timing_errors(self)}
        if errors:
            raise ValidationError(errors)

    def content(self):
        """What the step sends, as teambox's queueing takes it (only its kind's parts)."""
        if self.kind == self.Kind.TEMPLATE:
            return {
                "template": self.template.strip(),
                "template_language": self.template_language or "en",
                "template_params": [str(value) for value in self.template_params],
            }
        if self.kind == self.Kind.MEDIA:
            return {"body": self.text, "media_url": self.media_url}
        return {"body": self.text}


def content_errors(step):
    """{field: message} for a step that has nothing to send or that its sequence's channel
    cannot send."""
    Kind = SequenceMessage.Kind
    errors = {}
    if step.kind == Kind.TEXT and not step.text.strip():
        errors["text"] = "A text message needs its text."
    elif step.kind == Kind.MEDIA and not step.media_url.strip():
        errors["media_url"] = "A media message needs the media's URL."
    elif step.kind == Kind.TEMPLATE:
        if not step.template.strip():
            errors["template"] = "Name the approved template to send."
        params = step.template_params
        if not isinstance(params, list) or any(isinstance(v, (dict, list)) for v in params):
            errors["template_params"] = 'Give the values as a list, e.g. ["{{ contact.name }}"].'
    for name in ("text", "media_url"):
        for problem in template_errors(getattr(step, name)):
            errors.setdefault(name, problem)
    if isinstance(step.template_params, list):
        for value in step.template_params:
            for problem in template_errors(str(value)):
                errors.setdefault("template_params", problem)
    # In the admin, a new sequence's steps are checked before the sequence is saved.
    sequence = getattr(step, "sequence", None)
    if not errors and sequence is not None and sequence.channel_id:
        content = step.content()
        try:
            check_content(
                sequence.channel,
                content.get("body", ""),
                content.get("media_url", ""),
                content.get("template", ""),
            )
        except MessagingError as exc:
            errors["kind"] = f"The channel {sequence.channel.name!r}: {exc.message}"
    return errors


class Subscription(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        FINISHED = "finished", "Finished"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        STOPPED = "stopped", "Stopped by a reply"

    project_path = "sequence__project"

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="subscriptions")
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="sequence_subscriptions"
    )
    started_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True, help_text="Why it ended early.")

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "contact"], name="unique_subscription")
        ]
        # A reply looks up the contact's active subscriptions.
        indexes = [models.Index(fields=["contact", "status"], name="subscription_contact")]

    def __str__(self):
        return f"{self.contact} in {self.sequence}"


class Delivery(models.Model):
    """One step planned for one subscriber: sent at most once, when due."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    project_path = "subscription__sequence__project"

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    message = models.ForeignKey(
        SequenceMessage, on_delete=models.CASCADE, related_name="deliveries"
    )
    due_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=300, blank=True, help_text="Why it was skipped or failed.")
    sent_message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The teambox message it became (its delivery status).",
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["subscription", "message"], name="unique_delivery")
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="delivery_due")]

    def __str__(self):
        return f"{self.message} to {self.subscription.contact}"
