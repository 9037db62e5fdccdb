"""The offline message: what the customer reads when no agent can take their chat, or
nobody replies in time. Sent once per wait (the customer's oldest unanswered message)."""

from django.db import transaction

from crm import services as crm
from crm.models import TimelineEntry

from ..models import Conversation, Message
from ..services import MessagingError, queue_message

KEY_PREFIX = "teambox-offline:"


def offline_message_key(conversation, waiting_since):
    """One key per chat and wait; a chat started before the customer wrote waits from its
    start."""
    since = waiting_since or conversation.created_at
    return f"{KEY_PREFIX}{conversation.pk}:{since.timestamp():.6f}"


def offer_offline_message(conversation, rule, *, waiting_since, reason):
    """Queue the rule's offline message to the chat's contact unless it went out in this
    wait already; the message, or None. `reason` says on the timeline why it was sent."""
    if not rule.offline_message:
        return None
    key = offline_message_key(conversation, waiting_since)
    if Message.objects.filter(project_id=conversation.project_id, idempotency_key=key).exists():
        return None
    data = {"conversation": conversation.pk, "channel": conversation.channel.name}
    try:
        with transaction.atomic():
            message = queue_message(
                conversation.channel,
                conversation.contact,
                body=rule.offline_message,
                idempotency_key=key,
            )
            if waiting_since is not None:
                # The offline message is no answer: the customer still waits for an agent,
                # and the sweep still reassigns a chat nobody replies to.
                Conversation.objects.filter(pk=conversation.pk, waiting_since__isnull=True).update(
                    waiting_since=waiting_since
                )
    except MessagingError as error:
        crm.add_timeline_entry(
            conversation.contact,
            TimelineEntry.Kind.ASSIGNMENT,
            f"{reason}, and the offline message could not be sent: {error}",
            data=data,
        )
        return None
    crm.add_timeline_entry(
        conversation.contact,
        TimelineEntry.Kind.ASSIGNMENT,
        f"{reason}: the offline message was sent.",
        data={**data, "message": message.pk},
    )
    return message
