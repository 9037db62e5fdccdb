"""What starts a connector besides its URL: a message arriving on a channel.

teambox sends `messages_received` once per stored batch of new inbound messages, after
its commit (teambox/signals.py); the receiver in connectors/signals.py hands the batch
here. Each enabled connector triggered by the channel gets one event per message,
written in bulk and handed to workers as the ingest's are, whose payload is the message
(MESSAGE_PAYLOAD_HELP). The connectors are looked up once per batch, not per message.
"""

from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q

from teambox.models import Message

from .models import Connector
from .services import record_keyed_events

# The event method of a message's events: the event list shows where they came from.
MESSAGE_METHOD = "MESSAGE"

MESSAGE_PAYLOAD_HELP = (
    "Templates read the message as event.message.text, event.message.id, "
    "event.message.media_url, event.message.received_at (ISO 8601) and event.message.from "
    "(the sender's address as sent), its sender as event.contact.number, "
    "event.contact.name, event.contact.email and event.contact.id, and its channel as "
    "event.channel.name and event.channel.kind. Without a contact mapping, the sender is "
    "the run's contact."
)


def message_idempotency_key(message):
    """One event per (connector, message): the event's unique idempotency key refuses a
    second one should the message be signalled again."""
    return f"picky-message:{message.pk}"


def message_payload(message, contact, channel):
    """The event of an inbound message: the message, its sender and its channel."""
    return {
        "message": {
            "id": message.pk,
            "text": message.body,
            "media_url": message.media_url,
            "received_at": message.created_at.isoformat(),
            "from": message.address,
        },
        "contact": {
            "id": contact.pk if contact else None,
            "number": contact.number if contact else "",
            "name": contact.name if contact else "",
            "email": contact.email if contact else "",
        },
        "channel": {"id": channel.pk, "name": channel.name, "kind": channel.kind},
    }


def connectors_triggered_by(channel):
    """The enabled connectors of the channel's project that its messages start, in one
    query: what the ingest needs of them (and whether they have a sample, without
    reading it)."""
    return list(
        Connector.objects.filter(
            Q(trigger_channel=channel) | Q(trigger_channel__isnull=True),
            project_id=channel.project_id,
            trigger=Connector.Trigger.INBOUND_MESSAGE,
            enabled=True,
        )
        .only("id", "project_id", "enabled")
        .annotate(
            has_sample=ExpressionWrapper(
                Q(sample_payload__isnull=False), output_field=BooleanField()
            )
        )
        .order_by("pk")
    )


def start_message_runs(messages, channel):
    """Record one event per inbound message of `messages` (of `channel`, each with its
    contact loaded) and connector the channel starts, in one look-up of the connectors
    and bulk INSERTs; returns the new events' ids, each handed to a worker once committed.
    An outbound message starts nothing: a connector's reply never starts it again. A
    message signalled again records nothing new."""
    inbound = [message for message in messages if message.direction == Message.Direction.IN]
    if not inbound:
        return []
    connectors = connectors_triggered_by(channel)
    if not connectors:
        return []
    keyed_payloads = [
        (message_idempotency_key(message), message_payload(message, message.contact, channel))
        for message in inbound
    ]
    with transaction.atomic():
        return record_keyed_events(connectors, keyed_payloads, method=MESSAGE_METHOD)


def sender_mapping(event):
    """The field mapping that makes a message's sender the run's contact, for a
    connector without one: by number, else by e-mail address (values, not templates:
    nothing else of the contact is written)."""
    if event.method != MESSAGE_METHOD:
        return {}
    sender = (event.payload or {}).get("contact") or {}
    if sender.get("number"):
        return {"number": sender["number"]}
    if sender.get("email"):
        return {"email": sender["email"]}
    return {}
