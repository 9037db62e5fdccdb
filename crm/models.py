"""Contacts (subscribers) of a project and what hangs off them: tags, categories,
notes, reminders, the blacklist and opt-out lists."""

import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower

from picky.models import Project

# E.164: country code and subscriber number, at most 15 digits, no leading zero.
NUMBER_PATTERN = r"^[1-9][0-9]{6,14}$"
validate_number = RegexValidator(
    NUMBER_PATTERN,
    "Enter a WhatsApp number as 7 to 15 digits with the country code, e.g. 919847012345.",
)


def new_reply_token():
    return secrets.token_hex(10)


class Label(models.Model):
    """A name a project puts on its contacts: a tag, a category, an opt-out list. Unique
    in its project as typed, and looked up whatever its case (picky/names.py), which an
    index on (project, LOWER(name)) serves: without it each lookup reads every name of
    the project. Each kind has its own table and its `project` (its own related name)."""

    name = models.CharField(max_length=100)

    class Meta:
        abstract = True
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_%(class)s")]
        indexes = [models.Index(models.F("project"), Lower("name"), name="%(class)s_lower_name")]

    def __str__(self):
        return self.name


class Tag(Label):
    """A label; one tag model serves contacts, chats and records."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tags")


class Category(Label):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="categories")

    class Meta(Label.Meta):
        verbose_name_plural = "categories"


class OptOutList(Label):
    """A named list contacts opt out of (e.g. "Promotions"); senders may respect one."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="optout_lists")

    class Meta(Label.Meta):
        verbose_name = "opt-out list"
        # Its names predate the base, which names them after the class (optoutlist).
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_optout_list")
        ]
        indexes = [models.Index(models.F("project"), Lower("name"), name="optout_list_lower_name")]


class Contact(models.Model):
    """A subscriber of a project, keyed by WhatsApp number (digits with country code)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="contacts")
    number = models.CharField(max_length=20, blank=True, validators=[validate_number])
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    categories = models.ManyToManyField(Category, blank=True, related_name="contacts")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_contacts",
        help_text="The agent who owns this contact.",
    )
    blacklisted = models.BooleanField(
        default=False, help_text="Blacklisted contacts are never sent messages."
    )
    optouts = models.ManyToManyField(
        OptOutList, through="OptOut", blank=True, related_name="contacts"
    )
    last_interaction_at = models.DateTimeField(
        null=True, blank=True, help_text="When the contact last wrote to us."
    )
    smart_replies_paused_until = models.DateTimeField(null=True, blank=True)
    reply_token = models.CharField(
        max_length=32,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text="Identifies replies to this contact's reply+<token>@ email address.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "number"],
                condition=~models.Q(number=""),
                name="unique_contact_number",
            )
        ]
        indexes = [
            models.Index(fields=["project", "email"], name="contact_email"),
            models.Index(fields=["project", "last_interaction_at"], name="contact_interaction"),
        ]

    def __str__(self):
        return self.name or self.number or self.email or f"Contact {self.pk}"


class OptOut(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE)
    optout_list = models.ForeignKey(OptOutList, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    project_path = "contact__project"

    class Meta:
        verbose_name = "opt-out"
        constraints = [
            models.UniqueConstraint(fields=["contact", "optout_list"], name="unique_optout")
        ]

    def __str__(self):
        return f"{self.contact} opted out of {self.optout_list}"


class Note(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="notes")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="notes")
    text = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.text[:60]


class Reminder(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="reminders")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="reminders")
    text = models.TextField()
    due_at = models.DateTimeField()
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reminders",
    )
    done = models.BooleanField(default=False)
    notified_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the assignee was told it is due (journeys/reminders.py), once.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["done", "due_at"]
        indexes = [
            models.Index(fields=["project", "done", "due_at"], name="reminder_due"),
            # The sweep's claim: open reminders nobody was told about yet, by due time.
            models.Index(
                fields=["due_at"],
                name="reminder_to_notify",
                condition=models.Q(done=False, notified_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.text[:60]} (due {self.due_at:%Y-%m-%d %H:%M})"


class TimelineEntry(models.Model):
    """One line of a contact's timeline: a message in or out, an internal note, an
    event-feed card, an assignment, a status change or a kick, with its author and time.

    Apps that act on a contact add entries through crm.services.add_timeline_entry; `data`
    holds what each kind shows (a message's id and status, a card's buttons, who was
    assigned), so crm needs to import no app to show the timeline."""

    class Kind(models.TextChoices):
        MESSAGE_IN = "message_in", "Message received"
        MESSAGE_OUT = "message_out", "Message sent"
        NOTE = "note", "Internal note"
        EVENT_FEED = "event_feed", "Event feed"
        ASSIGNMENT = "assignment", "Assignment"
        STATUS = "status", "Status change"
        KICK = "kick", "Removed from the chat"
        FLOW = "flow", "Chatbot flow"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="timeline")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="timeline_entries",
        help_text="Who did it; empty for the contact or an automation.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "timeline entries"
        indexes = [models.Index(fields=["contact", "created_at"], name="timeline_contact_time")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.text[:60]}"


# The record store lives in its own package; imported here so its models belong to crm.
from .records.models import (  # noqa: E402, F401
    Field,
    Funnel,
    FunnelMove,
    FunnelPlacement,
    FunnelStage,
    MacroButton,
    Module,
    Record,
    RecordEntry,
    RecordImport,
)
