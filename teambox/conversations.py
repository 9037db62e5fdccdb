"""Conversations: one per (project, channel, contact), opened by the contact's first
message, reopened when they write after it was resolved, with its status, notes and
unread counts. Each change leaves a line on the contact's timeline (crm).

Exactly one conversation per contact and channel, however many of their messages arrive
at once: the unique constraint decides, and a caller that loses the race reads the
winner's row (Chatwoot's duplicate WhatsApp conversations came from checking first and
inserting after, with nothing in the database to refuse the second row).
"""

from collections import Counter

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm import services as crm
from crm.models import TimelineEntry

from .assignment import route_conversation, routes_chats
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
    """A new message from a contact: see record_inbound_batch; returns its conversation."""
    return record_inbound_batch([message])[0]


def record_inbound_batch(messages):
    """New messages from contacts (a webhook's, in its transaction): each contact's
    conversation on the channel is opened (or reopened), waits for an answer and counts
    the messages as unread for each assignee; the messages go on the timelines. A
    conversation reopened, or without an assignee, is routed. Returns the conversations,
    one per contact and channel; messages without a contact are left out.

    A few statements per BULK_BATCH contacts, routing aside: a webhook of thousands of
    messages costs about what one costs."""
    by_channel = {}
    for message in messages:
        if message.contact_id:
            by_channel.setdefault(message.channel_id, []).append(message)
    conversations = []
    for channel_messages in by_channel.values():
        contact_ids = sorted({message.contact_id for message in channel_messages})
        for start in range(0, len(contact_ids), crm.BULK_BATCH):
            chunk = set(contact_ids[start : start + crm.BULK_BATCH])
            conversations += record_on_channel(
                [message for message in channel_messages if message.contact_id in chunk]
            )
    return conversations


def record_on_channel(messages):
    """record_inbound_batch for messages of one channel."""
    channel = messages[0].channel
    contacts = {message.contact_id: message.contact for message in messages}
    at = max(message.created_at for message in messages)
    conversations = conversations_of(channel, contacts, at)
    reopened = {
        conversation.pk
        for conversation in conversations.values()
        if conversation.status in WOKEN_BY_A_MESSAGE and reopen(conversation)
    }
    ids = sorted(conversation.pk for conversation in conversations.values())
    Conversation.objects.filter(pk__in=ids).update(
        last_message_at=later_of_last_message(at),
        waiting_since=Coalesce("waiting_since", Value(at)),
    )
    assigned = set(
        ConversationAssignee.objects.filter(conversation_id__in=ids).values_list(
            "conversation_id", flat=True
        )
    )
    crm.add_timeline_entries(
        (
            message.contact,
            TimelineEntry.Kind.MESSAGE_IN,
            message_text(message),
            {**message_data(message), "conversation": conversations[message.contact_id].pk},
        )
        for message in messages
    )
    routing = routes_chats(channel.project_id)
    for conversation in conversations.values():
        conversation.last_message_at = max(conversation.last_message_at or at, at)
        conversation.waiting_since = conversation.waiting_since or at
        if routing and (conversation.pk in reopened or conversation.pk not in assigned):
            route_conversation(conversation)
    # After routing, so that the agent just given a chat has its messages unread.
    unread = {}
    for contact_id, count in Counter(message.contact_id for message in messages).items():
        unread.setdefault(count, []).append(conversations[contact_id].pk)
    for count, conversation_ids in unread.items():
        ConversationAssignee.objects.filter(conversation_id__in=conversation_ids).update(
            unread_count=F("unread_count") + count
        )
    return list(conversations.values())


def conversations_of(channel, contacts, at):
    """{contact id: conversation} on `channel` of `contacts` ({id: contact}), those they
    lack created. A conversation a parallel webhook is creating is waited for (the unique
    index holds the second INSERT until the first commits) and read once committed."""
    key = {"project_id": channel.project_id, "channel": channel}
    found = {
        conversation.contact_id: conversation
        for conversation in Conversation.objects.filter(**key, contact_id__in=list(contacts))
    }
    missing = sorted(contacts.keys() - found.keys())
    if missing:
        # In contact order, so two webhooks creating the same ones never wait on each other
        # in a circle.
        Conversation.objects.bulk_create(
            [
                Conversation(**key, contact_id=contact_id, last_message_at=at)
                for contact_id in missing
            ],
            ignore_conflicts=True,
        )
        found.update(
            (conversation.contact_id, conversation)
            for conversation in Conversation.objects.filter(**key, contact_id__in=missing)
        )
    for contact_id, conversation in found.items():
        conversation.channel, conversation.contact = channel, contacts[contact_id]
    return found


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
    """`user` has read the conversation: their unread count is 0. Written only when it was
    not (opening a read chat writes nothing)."""
    ConversationAssignee.objects.filter(
        conversation=conversation, user=user, unread_count__gt=0
    ).update(unread_count=0)


def contact_conversations(contact, channel=None):
    """The contact's conversations, on `channel` only when given; none is created."""
    conversations = Conversation.objects.filter(project_id=contact.project_id, contact=contact)
    if channel is not None:
        conversations = conversations.filter(channel=channel)
    return list(conversations.select_related("channel", "contact").order_by("pk"))
