"""What starts a connector besides its URL: a message arriving on a channel, a record of a
module created, updated or deleted.

teambox sends `messages_received` once per stored batch of new inbound messages, after
its commit (teambox/signals.py); the receiver in connectors/signals.py hands the batch
here. Each enabled connector triggered by the channel gets one event per message,
written in bulk and handed to workers as the ingest's are, whose payload is the message
(MESSAGE_PAYLOAD_HELP). The connectors are looked up once per batch, not per message.

crm sends `record_changed` once per record written, after its commit (crm/signals.py);
each enabled connector triggered by that change of the record's module gets one event,
whose payload is the record (RECORD_PAYLOAD_HELP). A change made by a run starts them one
hop further than the run's event (`committing_at_hop`): connectors that keep changing each
other's records stop after MAX_ROUTING_HOPS, as payloads routed in a loop do.
"""

import logging
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q

from actions.types.notification import MAX_ROUTING_HOPS
from crm.models import Contact
from teambox.models import Message

from .models import Connector
from .services import record_keyed_events

logger = logging.getLogger(__name__)

# The event method of a message's events: the event list shows where they came from.
MESSAGE_METHOD = "MESSAGE"
# The event method of a record change's events.
RECORD_METHOD = "RECORD"

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
    return enabled_connectors(
        Q(trigger_channel=channel) | Q(trigger_channel__isnull=True),
        project_id=channel.project_id,
        trigger=Connector.Trigger.INBOUND_MESSAGE,
    )


def enabled_connectors(*conditions, **lookups):
    """The enabled connectors matching the conditions, in one query: what the ingest
    needs of them (and whether they have a sample, without reading it)."""
    return list(
        Connector.objects.filter(*conditions, enabled=True, **lookups)
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
    """The field mapping that makes a message's sender (or a record's contact) the run's
    contact, for a connector without one: by number, else by e-mail address (values, not
    templates: nothing else of the contact is written)."""
    if event.method not in (MESSAGE_METHOD, RECORD_METHOD):
        return {}
    sender = (event.payload or {}).get("contact") or {}
    if sender.get("number"):
        return {"number": sender["number"]}
    if sender.get("email"):
        return {"email": sender["email"]}
    return {}


# Record changes -----------------------------------------------------------------------

RECORD_PAYLOAD_HELP = (
    "Started by a record, templates read it as event.record.<field key> (with "
    "event.record.id, event.record.name, event.record.owner, event.record.created_at and "
    "event.record.updated_at), the record before an update as event.before.<field key> "
    "(null otherwise), the change as event.change (created, updated or deleted; a deleted "
    "record is shown as it was), its module as event.module.name and event.module.id, and "
    "its contact as event.contact.number, event.contact.name, event.contact.email and "
    "event.contact.id (empty without one). Without a contact mapping, the record's contact "
    "is the run's contact."
)

# During a run's commit (RunTransaction.commit), a one-item list: the hop count of the
# run whose record changes are being signalled; None outside one (an agent's edit).
_committing_hop = ContextVar("picky_committing_hop", default=None)


@contextmanager
def committing_at_hop(hop_count):
    """Around a run's commit: the record changes it commits start their connectors at
    `hop_count` + 1, or at the hop a mark names (mark_committing_hop), and nothing is
    left behind once it is over."""
    token = _committing_hop.set([hop_count])
    try:
        yield
    finally:
        _committing_hop.reset(token)


def mark_committing_hop(hop_count):
    """A commit callback the run's transaction registers where a run's work starts: the
    record changes signalled after it, in the same commit, are that run's. Called outside
    a run's commit (a test's captured callbacks), it does nothing."""
    committing = _committing_hop.get()
    if committing is not None:
        committing[0] = hop_count


def record_idempotency_key(record, change):
    """One event per (connector, record change): a change signalled again records none.
    An update is told from the record's other updates by its time."""
    if change == "deleted":
        return f"picky-record:{record['id']}:deleted"
    return f"picky-record:{record['id']}:{change}:{record.get('updated_at') or ''}"


def contact_payload(contact_id):
    """The record's contact as a message's event shows its sender (empty without one)."""
    contact = (
        Contact.objects.filter(pk=contact_id).only("id", "number", "name", "email").first()
        if contact_id
        else None
    )
    return {
        "id": contact.pk if contact else None,
        "number": contact.number if contact else "",
        "name": contact.name if contact else "",
        "email": contact.email if contact else "",
    }


def connectors_started_by(module, trigger):
    """The enabled connectors `trigger` starts for `module`'s records, looked up once per
    module object: crm signals each record of a write of many (an update by criteria, a
    deletion) with the same module object, so that the write costs one look-up, not one
    per record."""
    cache = module.__dict__.setdefault("_connectors_by_record_trigger", {})
    if trigger not in cache:
        cache[trigger] = enabled_connectors(
            project_id=module.project_id, trigger=trigger, trigger_module=module
        )
    return cache[trigger]


def start_record_runs(module, record, before, change):
    """Record one event of the record change for each enabled connector the change of
    `module`'s records starts (one look-up), handed to workers once committed; returns the
    new events' ids. A change made by a run at MAX_ROUTING_HOPS - 1 hops starts nothing."""
    trigger = Connector.RECORD_TRIGGERS.get(change)
    if trigger is None:
        return []
    connectors = connectors_started_by(module, trigger)
    if not connectors:
        return []
    committing = _committing_hop.get()
    hop_count = 0 if committing is None else committing[0] + 1
    if hop_count >= MAX_ROUTING_HOPS:
        logger.warning(
            "Record %s of module %s was %s by a run %s hops deep: no connector started "
            "(a loop of connectors changing records?)",
            record.get("id"),
            module.pk,
            change,
            hop_count - 1,
        )
        return []
    payload = {
        "record": record,
        "before": before,
        "change": change,
        "module": {"id": module.pk, "name": module.name},
        "contact": contact_payload(record.get("contact_id")),
    }
    keyed = [(record_idempotency_key(record, change), payload)]
    with transaction.atomic():
        return record_keyed_events(connectors, keyed, method=RECORD_METHOD, hop_count=hop_count)
