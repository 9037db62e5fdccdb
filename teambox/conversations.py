"""Conversations: one per (project, channel, contact), opened by the contact's first
message, reopened when they write after it was resolved, with its status, notes and
unread counts. Each change leaves a line on the contact's timeline (crm).

Exactly one conversation per contact and channel, however many of their messages arrive
at once: the unique constraint decides, and a caller that loses the race reads the
winner's row (Chatwoot's duplicate WhatsApp conversations came from checking first and
inserting after, with nothing in the database to refuse the second row).
"""

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm import services as crm
from crm.models import TimelineEntry

from .message_log import later_of_last_message, message_data, message_text
from .models import Conversation, ConversationAssignee

Status = Conversation.Status
# The states an inbound message ends: the customer is back, someone must look.
WOKEN_BY_A_MESSAGE = (Status.RESOLVED, Status.SNOOZED)


class ConversationError(ValueError):
    """A change a conversation cannot take; the message says why."""


def open_conversation(channel, contact, *, at=None):
    """(conversation, opened) of `contact` on `channel`, created when they have none and
    reopened when it was resolved or snoozed; `opened` says it was created or reopened.
    `at` (now by default) is the new conversation's last activity, so a chat started
    before any message sorts by when it was started."""
    if contact.project_id != channel.project_id:
        raise ConversationError(f"{contact} is not a contact of the project of {channel}.")
    at = at or timezone.now()
    key = {"project_id": channel.project_id, "channel": channel, "contact": contact}
    conversation = Conversation.objects.filter(**key).first()
    if conversation is None:
        try:
            with transaction.atomic():
                return Conversation.objects.create(**key, last_message_at=at), True
        except IntegrityError:
            # A parallel message of the same contact created it a moment ago.
            conversation = Conversation.objects.get(**key)
    if conversation.status in WOKEN_BY_A_MESSAGE:
        return conversation, reopen(conversation)
    return conversation, False


def reopen(conversation):
    """Open a resolved or snoozed conversation; False when a parallel call did first."""
    previous = conversation.status
    reopened = Conversation.objects.filter(pk=conversation.pk, status=previous).update(
        status=Status.OPEN, resolved_at=None, snoozed_until=None
    )
    conversation.refresh_from_db(fields=["status", "resolved_at", "snoozed_until"])
    if reopened:
        status_entry(conversation, previous, author=None)
    return bool(reopened)


def record_inbound(message):
    """A new message from a contact: their conversation is opened (or reopened), waits
    for an answer, counts one more unread message for each assignee, and the message
    goes on the timeline. A conversation just opened, or without an assignee, is routed.

    A few statements per message (routing aside), so a webhook of many messages costs
    each the same."""
    at = message.created_at
    conversation, opened = open_conversation(message.channel, message.contact, at=at)
    Conversation.objects.filter(pk=conversation.pk).update(
        last_message_at=later_of_last_message(at),
        waiting_since=Coalesce("waiting_since", Value(at)),
    )
    conversation.last_message_at = max(conversation.last_message_at or at, at)
    conversation.waiting_since = conversation.waiting_since or at
    assigned = ConversationAssignee.objects.filter(conversation=conversation).update(
        unread_count=F("unread_count") + 1
    )
    crm.add_timeline_entry(
        message.contact,
        TimelineEntry.Kind.MESSAGE_IN,
        message_text(message),
        data={**message_data(message), "conversation": conversation.pk},
    )
    if opened or not assigned:
        route(conversation)
    return conversation


def route(conversation):
    # teambox.assignment routes through services.py's queue_message, which records
    # outbound messages; imported here until the package is committed (issue 18, T2).
    from .assignment import route_conversation

    route_conversation(conversation)


def set_status(conversation, status, *, author=None, snoozed_until=None):
    """Move the conversation to `status` (a Conversation.Status value); a resolved one no
    longer waits for an answer, a snoozed one sleeps until `snoozed_until` or the
    contact's next message. The change goes on the timeline."""
    try:
        status = Status(status)
    except ValueError:
        choices = ", ".join(Status.values)
        raise ConversationError(f"{status!r} is not a status; choose one of {choices}.") from None
    if status != Status.SNOOZED and snoozed_until is not None:
        raise ConversationError("Only a snoozed conversation has a time to wake up.")
    if (status, snoozed_until) == (conversation.status, conversation.snoozed_until):
        return conversation
    previous = conversation.status
    fields = {
        "status": status,
        "snoozed_until": snoozed_until,
        "resolved_at": timezone.now() if status == Status.RESOLVED else None,
    }
    if status == Status.RESOLVED:
        fields["waiting_since"] = None
    Conversation.objects.filter(pk=conversation.pk).update(**fields)
    for name, value in fields.items():
        setattr(conversation, name, value)
    status_entry(conversation, previous, author)
    return conversation


def status_entry(conversation, previous, author):
    """The timeline line of a status change from `previous` to the conversation's."""
    status = Status(conversation.status)
    text = f"{status.label} (was {Status(previous).label.lower()})"
    if status == Status.SNOOZED and conversation.snoozed_until:
        text += f", until {conversation.snoozed_until:%Y-%m-%d %H:%M %Z}"
    return crm.add_timeline_entry(
        conversation.contact,
        TimelineEntry.Kind.STATUS,
        text,
        data={
            "conversation": conversation.pk,
            "channel": conversation.channel.name,
            "status": status.value,
            "previous": previous,
        },
        author=author,
    )


def add_internal_note(conversation, text, author):
    """A note for the team on the contact's timeline; the customer never sees it."""
    text = str(text or "").strip()
    if not text:
        raise ConversationError("An internal note needs text.")
    return crm.add_timeline_entry(
        conversation.contact,
        TimelineEntry.Kind.NOTE,
        text,
        data={"conversation": conversation.pk, "channel": conversation.channel.name},
        author=author,
    )


def mark_read(conversation, user):
    """`user` has read the conversation: their unread count is 0."""
    ConversationAssignee.objects.filter(conversation=conversation, user=user).update(unread_count=0)
