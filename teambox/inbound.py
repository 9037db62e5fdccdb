"""Inbound webhooks of channels: messages and status changes, stored in bulk, exactly once.

A body with few items (the usual one message or status) is processed while the
provider waits. A larger one is stored at once as an `InboundDelivery` and
processed by a worker: thousands of messages take longer than a provider waits
for its answer, and a request killed at its timeout would roll them all back.

A delivery is processed exactly once: its messages, its status changes and its
"done" commit in one transaction that holds the delivery's row lock. A worker that
finds the row locked leaves it to the one holding it; a worker that dies rolls its
work back and releases the lock, and the sweep hands the delivery out again once
its lease is over.
"""

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from crm import services as crm
from picky.models import Project

from .channels import WebhookError, adapter_for
from .conversations import record_inbound_batch
from .groups import apply_participants_changes
from .models import InboundDelivery, Message
from .queries import insert_message_rows
from .queue import enqueue_inbound_delivery
from .signals import message_statuses_changed, messages_received

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
SWEEP_BATCH = 500
# Later statuses never move a message back (a late "delivered" after "read").
STATUS_RANK = {
    Message.Status.QUEUED: 0,
    Message.Status.SUBMITTED: 1,
    Message.Status.DELIVERED: 2,
    Message.Status.READ: 3,
}
# What a phone number may be written with; anything else (VM-AMAZON) is a sender name.
PHONE_LIKE = re.compile(r"^\+?[\d\s().-]+$")


def lease():
    return timedelta(seconds=settings.PICKY_RUN_LEASE_SECONDS)


@dataclass
class Accepted:
    """What a webhook body carried; `delivery_id` when it was left to a worker."""

    messages: int
    statuses: int
    delivery_id: int | None = None


def accept_webhook(channel, data):
    """Read a webhook body: processed now when it carries at most
    PICKY_INBOUND_INLINE_ITEMS messages and statuses, else stored for a worker.

    Returns Accepted: processed now, `statuses` counts the changes that moved a
    message forward; left to a worker, what the body carries. Raises WebhookError
    for a body the channel cannot read (nothing is stored then).
    """
    adapter = adapter_for(channel)
    incoming = adapter.parse_inbound(data)
    changes = adapter.parse_status(data)
    group_changes = adapter.parse_participants(data)
    check_provider_ids(incoming)
    if len(incoming) + len(changes) <= settings.PICKY_INBOUND_INLINE_ITEMS:
        with transaction.atomic():
            _, applied = store_inbound(channel, incoming, changes, timezone.now())
            apply_participants_changes(channel, group_changes)
        return Accepted(len(incoming), applied)
    delivery = InboundDelivery.objects.create(
        project_id=channel.project_id,
        channel=channel,
        payload=data,
        messages=len(incoming),
        statuses=len(changes),
        lease_until=timezone.now() + lease(),
    )
    transaction.on_commit(partial(enqueue_inbound_delivery, delivery.pk))
    return Accepted(len(incoming), len(changes), delivery.pk)


def check_provider_ids(incoming):
    limit = Message._meta.get_field("provider_id").max_length
    for item in incoming:
        if len(item.provider_id) > limit:
            raise WebhookError(
                f"The message id {item.provider_id[:40]!r}… is longer than {limit} characters."
            )


# Storing ------------------------------------------------------------------------------


def store_inbound(channel, incoming, changes, received_at):
    """Store the inbound messages, then apply the status changes, in the caller's
    transaction; returns (new messages, changes that moved a message forward).

    `received_at` is when the webhook came, for messages and changes whose provider
    does not say when. The new messages open or update their contacts' conversations
    (routed to agents) and timelines; `messages_received` is sent once for them all
    after the commit.
    """
    messages = receive_messages(channel, incoming, received_at)
    record_inbound_batch(messages)
    applied = apply_statuses(channel, changes, received_at)
    if messages:
        transaction.on_commit(
            partial(messages_received.send, sender=Message, messages=messages, channel=channel),
            robust=True,
        )
    return messages, applied


def receive_messages(channel, incoming, received_at):
    """Store the messages not stored before; returns the new Message rows.

    A provider's repeat of a message (same provider id, in this body or an earlier
    one) is stored once.
    """
    fresh = not_yet_stored(channel, incoming)
    if not fresh:
        return []
    senders = sender_contacts(channel, fresh, received_at)
    try:
        with transaction.atomic():
            return insert_messages(channel, fresh, senders)
    except IntegrityError:
        # A concurrent webhook stored some of these provider ids a moment ago.
        return insert_messages(channel, not_yet_stored(channel, fresh), senders)


def not_yet_stored(channel, incoming):
    """`incoming` without the messages whose provider id is stored or came earlier in it."""
    ids = list({item.provider_id for item in incoming if item.provider_id})
    seen = set()
    for start in range(0, len(ids), crm.BULK_BATCH):
        seen.update(
            Message.objects.filter(
                channel=channel,
                direction=Message.Direction.IN,
                provider_id__in=ids[start : start + crm.BULK_BATCH],
            ).values_list("provider_id", flat=True)
        )
    fresh = []
    for item in incoming:
        if item.provider_id:
            if item.provider_id in seen:
                continue
            seen.add(item.provider_id)
        fresh.append(item)
    return fresh


def sender_number(address):
    """The sender's WhatsApp number, or "" when the sender is not a number: an
    alphanumeric sender such as VM-AMAZON, a short code. Its messages are kept with
    the address as sent and no contact, so that agents still see them."""
    if not PHONE_LIKE.match(address):
        return ""
    try:
        return crm.clean_number(address)
    except crm.ContactError:
        return ""


def sender_contacts(channel, incoming, received_at):
    """{id(item): (address to store, contact or None)} of the messages' senders, whose
    contacts are created or updated (name when they have none, last interaction)."""
    if adapter_for(channel).address_kind == "email":
        return {id(item): email_sender(channel.project, item, received_at) for item in incoming}
    numbers = {id(item): sender_number(item.address) for item in incoming}
    senders = {}
    for item in incoming:
        number = numbers[id(item)]
        if number:
            name, last = senders.get(number, ("", None))
            when = item.received_at or received_at
            senders[number] = (name or item.name, when if last is None else max(last, when))
    contacts = crm.record_senders(channel.project, senders)
    return {
        id(item): (numbers[id(item)] or item.address, contacts.get(numbers[id(item)]))
        for item in incoming
    }


def email_sender(project, item, received_at):
    """(address, contact) of an inbound e-mail: the contact its reply+<token>@ address
    belongs to, else the one with the sender's address (created when new)."""
    contact = crm.contact_for_reply_address(project, item.recipient)
    if contact is None:
        existing = crm.find_contact(project, email=item.address)
        name = "" if existing is not None and existing.name else item.name
        try:
            contact = crm.upsert_contact(project, "", name=name, email=item.address)
        except crm.ContactError:
            return item.address, None
    crm.record_interaction(contact, item.received_at or received_at)
    return item.address, contact


def insert_messages(channel, incoming, senders):
    """INSERT the messages (in bulk, teambox/queries.py), with their channel and contacts."""
    max_address = Message._meta.get_field("address").max_length
    now = timezone.now()
    rows = []
    for item in incoming:
        address, contact = senders[id(item)]
        rows.append(
            {
                "project_id": channel.project_id,
                "channel_id": channel.pk,
                "contact_id": contact.pk if contact else None,
                "direction": Message.Direction.IN.value,
                "address": address[:max_address],
                "body": item.body,
                "media_url": item.media_url[:1000],
                "status": Message.Status.RECEIVED.value,
                "provider_id": item.provider_id,
                "payload": item.payload,
                "created_at": now,
                "updated_at": now,
            }
        )
    messages = insert_message_rows(rows)
    for message, item in zip(messages, incoming, strict=True):
        message.channel = channel
        message.contact = senders[id(item)][1]
    return messages


def apply_statuses(channel, changes, received_at):
    """Move the outbound messages the changes name forward, in the changes' order;
    returns how many changes moved one. A message never moves back. `received_at`:
    when the webhook came, for changes whose provider does not say when."""
    ids = list({change.provider_id for change in changes})
    named = {}
    for start in range(0, len(ids), crm.BULK_BATCH):
        for message in (
            Message.objects.select_for_update()
            .filter(
                channel=channel,
                direction=Message.Direction.OUT,
                provider_id__in=ids[start : start + crm.BULK_BATCH],
            )
            .order_by("pk")
        ):
            named.setdefault(message.provider_id, []).append(message)
    now = timezone.now()
    changed = {}
    applied = 0
    for change in changes:
        moved = False
        for message in named.get(change.provider_id, ()):
            before = (message.status, message.delivered_at)
            moved = move_forward(message, change, change.at or received_at) or moved
            if (message.status, message.delivered_at) != before:
                message.updated_at = now
                changed[message.pk] = message
        applied += moved
    Message.objects.bulk_update(
        changed.values(),
        ["status", "error", "delivered_at", "read_at", "failed_at", "updated_at"],
        batch_size=crm.BULK_BATCH,
    )
    if changed:
        transaction.on_commit(
            partial(message_statuses_changed.send, sender=Message, messages=list(changed.values())),
            robust=True,
        )
    return applied


def move_forward(message, change, at):
    """Apply one status change to `message` (in memory); returns whether its status moved."""
    if change.status == Message.Status.FAILED:
        if message.status in (Message.Status.READ, Message.Status.FAILED):
            return False
        message.status = Message.Status.FAILED
        message.error = change.error or "The provider reported the message as failed."
        message.failed_at = at
        return True
    if change.status == Message.Status.READ and message.delivered_at is None:
        # A "read" may overtake its "delivered".
        message.delivered_at = at
    rank = STATUS_RANK[change.status]
    if STATUS_RANK.get(message.status, rank) >= rank:
        return False
    message.status = change.status
    if change.status == Message.Status.DELIVERED:
        message.delivered_at = at
    elif change.status == Message.Status.READ:
        message.read_at = at
    return True


# Deliveries left to a worker ----------------------------------------------------------


def process_delivery(delivery_id):
    """Store the messages and apply the statuses of a delivery (the Celery task's body).

    Returns the delivery once done, or None when there was nothing to do: it was
    done or failed already, another worker is processing it, or this attempt
    failed (then it is handed out again after its lease).
    """
    if not claim_delivery(delivery_id):
        return None
    try:
        with transaction.atomic():
            delivery = (
                InboundDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("channel__project")
                .filter(pk=delivery_id, status=InboundDelivery.Status.PROCESSING)
                .first()
            )
            if delivery is None:
                return None
            adapter = adapter_for(delivery.channel)
            messages, applied = store_inbound(
                delivery.channel,
                adapter.parse_inbound(delivery.payload),
                adapter.parse_status(delivery.payload),
                delivery.received_at,
            )
            fields = {
                "status": InboundDelivery.Status.DONE,
                "payload": None,
                "stored": len(messages),
                "applied": applied,
                "error": "",
                "lease_until": None,
                "finished_at": timezone.now(),
            }
            InboundDelivery.objects.filter(pk=delivery.pk).update(**fields)
    except Exception as exc:
        logger.exception("Processing inbound delivery %s failed", delivery_id)
        InboundDelivery.objects.filter(
            pk=delivery_id, status=InboundDelivery.Status.PROCESSING
        ).update(
            status=InboundDelivery.Status.QUEUED,
            error=f"Processing failed ({type(exc).__name__}: {exc}); nothing of it was "
            "stored, and it is tried again.",
        )
        return None
    for name, value in fields.items():
        setattr(delivery, name, value)
    return delivery


def claim_delivery(delivery_id):
    """Count an attempt and lease the delivery; False when there is nothing to do (it
    is done or failed, or a worker holds its row right now) or it has had its
    attempts, which fails it."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            InboundDelivery.objects.select_for_update(skip_locked=True)
            .filter(
                pk=delivery_id,
                status__in=[InboundDelivery.Status.QUEUED, InboundDelivery.Status.PROCESSING],
            )
            .only("pk", "attempts", "error")
            .first()
        )
        if delivery is None:
            return False
        deliveries = InboundDelivery.objects.filter(pk=delivery_id)
        if delivery.attempts >= MAX_ATTEMPTS:
            last = delivery.error or "the worker stopped while processing it."
            deliveries.update(
                status=InboundDelivery.Status.FAILED,
                lease_until=None,
                finished_at=now,
                error=f"Gave up after {delivery.attempts} attempts; the last one: {last} "
                'Use "Process again" once the cause is fixed.',
            )
            return False
        deliveries.update(
            status=InboundDelivery.Status.PROCESSING,
            attempts=F("attempts") + 1,
            lease_until=now + lease(),
        )
    return True


def sweep_deliveries(now=None):
    """Hand out again the deliveries left queued or processing past their lease (the
    broker lost the message, a worker died); returns how many. A delivery a worker is
    processing (its row locked) is not one of them, however long it takes."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            InboundDelivery.objects.select_for_update(skip_locked=True)
            .filter(
                status__in=[InboundDelivery.Status.QUEUED, InboundDelivery.Status.PROCESSING],
                lease_until__lt=now,
            )
            .order_by("lease_until")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        InboundDelivery.objects.filter(pk__in=ids).update(lease_until=now + lease())
    for delivery_id in ids:
        enqueue_inbound_delivery(delivery_id)
    return len(ids)


def retry_deliveries(deliveries):
    """Queue failed deliveries again with fresh attempts; returns how many."""
    ids = list(deliveries.filter(status=InboundDelivery.Status.FAILED).values_list("pk", flat=True))
    InboundDelivery.objects.filter(pk__in=ids).update(
        status=InboundDelivery.Status.QUEUED,
        attempts=0,
        error="",
        finished_at=None,
        lease_until=timezone.now() + lease(),
    )
    for delivery_id in ids:
        transaction.on_commit(partial(enqueue_inbound_delivery, delivery_id))
    return len(ids)


def prune_deliveries(now=None):
    """Delete the done deliveries older than their project's retention; returns how many.
    Their messages stay; failed deliveries stay until processed."""
    now = now or timezone.now()
    deleted = 0
    for project in Project.objects.only("pk", "retention_days"):
        deleted += InboundDelivery.objects.filter(
            project=project,
            status=InboundDelivery.Status.DONE,
            finished_at__lt=now - timedelta(days=project.retention_days),
        ).delete()[0]
    return deleted
