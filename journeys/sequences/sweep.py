"""Sending due sequence messages: the beat sweep (journeys.tasks.sweep_sequences).

Each batch claims due pending deliveries with `SELECT ... FOR UPDATE SKIP LOCKED` (SQLite
ignores FOR UPDATE: its single writer serialises concurrent sweeps instead), and in the same
transaction queues one teambox message per delivery it may send and marks every claimed
delivery settled: sent, skipped (blacklisted, opted out, outside the 24-hour session
without a template, no address, the contact left) or failed (the channel cannot send it).
A delivery is settled once, so its message is sent at most once however many sweeps run;
the message's idempotency key (the delivery's id) makes the database refuse a second one.
The queued messages are then sent through their channel in one batch
(teambox.services.deliver_messages); one the worker could not send (it died) is retried or
failed by teambox's sweep.
"""

from django.db import transaction
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from crm import services as crm
from picky.templating import render
from teambox.channels import adapter_for
from teambox.message_log import record_outbound_batch
from teambox.models import Message
from teambox.services import (
    SESSION_WINDOW,
    MessagingError,
    check_content,
    contacts_in_session,
    deliver_messages,
    lease,
)

from .models import Delivery, SequenceMessage, Subscription
from .services import LEFT

KEY_PREFIX = "sequence-delivery-"
BATCH_SIZE = 500
# One sweep sends at most this many batches; the next beat tick takes the rest.
MAX_BATCHES = 20

Status = Delivery.Status


def sweep_due_deliveries(batch_size=BATCH_SIZE, max_batches=MAX_BATCHES):
    """Send every due delivery (up to `max_batches` batches); returns how many were
    settled."""
    settled = 0
    for _ in range(max_batches):
        count, message_ids = settle_due_batch(batch_size)
        if message_ids:
            deliver_messages(message_ids)
        settled += count
        if count < batch_size:
            break
    return settled


def claim_due(now, batch_size):
    """Lock up to `batch_size` due pending deliveries, oldest first, skipping rows another
    sweep holds (inside a transaction): one query on the (status, due_at) index."""
    return list(
        Delivery.objects.select_for_update(skip_locked=True)
        .filter(status=Status.PENDING, due_at__lte=now)
        .order_by("due_at")
        .values_list("pk", flat=True)[:batch_size]
    )


@transaction.atomic
def settle_due_batch(batch_size=BATCH_SIZE):
    """Claim one batch and queue its messages; returns (deliveries settled, ids of the
    messages queued, to send once committed)."""
    now = timezone.now()
    ids = claim_due(now, batch_size)
    if not ids:
        return 0, []
    deliveries = list(
        Delivery.objects.filter(pk__in=ids)
        .select_related("subscription__contact__owner")
        .prefetch_related(
            "subscription__contact__tags",
            "subscription__contact__categories",
            "subscription__contact__optouts",
        )
        .order_by("due_at", "pk")
    )
    share_steps(deliveries)
    in_session = sessions(deliveries, now)
    messages, unsent = [], {}
    for delivery in deliveries:
        status, reason = refusal(delivery, in_session)
        if status is None:
            messages.append(message_for(delivery, now))
        else:
            unsent.setdefault((status, reason), []).append(delivery.pk)
    Message.objects.bulk_create(messages)
    # A drip message does not answer a customer who waits for an agent.
    record_outbound_batch(messages, automated=True)
    mark_sent(messages, now)
    for (status, reason), delivery_ids in unsent.items():
        Delivery.objects.filter(pk__in=delivery_ids).update(status=status, reason=reason)
    finish_subscriptions({delivery.subscription_id for delivery in deliveries}, now)
    return len(deliveries), [message.pk for message in messages]


def share_steps(deliveries):
    """Give the deliveries their steps, sequences and channels, one instance of each for the
    batch (a batch is mostly one sequence's step: a thousand copies cost more than sending)."""
    steps = SequenceMessage.objects.select_related("sequence__channel").in_bulk(
        {delivery.message_id for delivery in deliveries}
    )
    for delivery in deliveries:
        # A delivery's step is of its subscription's sequence.
        delivery.message = steps[delivery.message_id]
        delivery.subscription.sequence = delivery.message.sequence


def delivery_key(delivery_id):
    """The idempotency key of a delivery's message: the database refuses a second one."""
    return f"{KEY_PREFIX}{delivery_id}"


def mark_sent(messages, now):
    """The deliveries of these messages are sent: one UPDATE per project, each delivery
    finding its message by key (no per-row CASE, which costs more than the sending)."""
    projects = {}
    for message in messages:
        projects.setdefault(message.project_id, []).append(
            int(message.idempotency_key.removeprefix(KEY_PREFIX))
        )
    for project_id, delivery_ids in projects.items():
        key = Concat(Value(KEY_PREFIX), Cast(OuterRef("pk"), CharField()))
        message = Message.objects.filter(project_id=project_id, idempotency_key=key)
        Delivery.objects.filter(pk__in=delivery_ids).update(
            status=Status.SENT, sent_at=now, sent_message=Subquery(message.values("pk")[:1])
        )


def sessions(deliveries, now):
    """{channel id: ids of the contacts in session} for the official channels of the
    deliveries that are no template (one query per channel)."""
    wanted = {}
    for delivery in deliveries:
        channel = delivery.subscription.sequence.channel
        if channel.is_official and delivery.message.kind != SequenceMessage.Kind.TEMPLATE:
            wanted.setdefault(channel, set()).add(delivery.subscription.contact_id)
    return {
        channel.pk: contacts_in_session(channel, contact_ids, now)
        for channel, contact_ids in wanted.items()
    }


def refusal(delivery, in_session):
    """(status, reason) of a delivery that is not sent, or (None, "")."""
    subscription = delivery.subscription
    sequence, contact, step = subscription.sequence, subscription.contact, delivery.message
    channel = sequence.channel
    if subscription.status != Subscription.Status.ACTIVE:
        return Status.SKIPPED, LEFT
    if not sequence.enabled:
        return Status.SKIPPED, "The sequence is turned off."
    reason = crm.refusal_reason(contact, sequence.optout_list)
    if reason:
        return Status.SKIPPED, reason
    if not channel.enabled:
        return Status.FAILED, f"The channel {channel.name!r} is turned off."
    content = step.content()
    try:
        check_content(
            channel,
            content.get("body", ""),
            content.get("media_url", ""),
            content.get("template", ""),
        )
    except MessagingError as exc:
        return Status.FAILED, exc.message
    if not address_for(channel, contact):
        email = adapter_for(channel).address_kind == "email"
        return (
            Status.SKIPPED,
            f"The contact has no {'e-mail address' if email else 'WhatsApp number'}.",
        )
    outside = channel.pk in in_session and contact.pk not in in_session[channel.pk]
    if outside and step.kind != SequenceMessage.Kind.TEMPLATE:
        hours = int(SESSION_WINDOW.total_seconds() // 3600)
        return (
            Status.SKIPPED,
            f"No message from the contact in the last {hours} hours, and outside that window "
            "WhatsApp only accepts an approved template.",
        )
    return None, ""


def address_for(channel, contact):
    return contact.email if adapter_for(channel).address_kind == "email" else contact.number


def message_for(delivery, now):
    """The delivery's teambox message, its `{{ contact.* }}` filled in."""
    subscription = delivery.subscription
    channel, contact = subscription.sequence.channel, subscription.contact
    data = {"contact": crm.contact_as_context(contact)}
    content = delivery.message.content()
    template = content.get("template", "")
    return Message(
        project_id=channel.project_id,
        channel=channel,
        contact=contact,
        direction=Message.Direction.OUT,
        address=address_for(channel, contact),
        body=render(content.get("body", ""), data),
        subject=subscription.sequence.name if adapter_for(channel).address_kind == "email" else "",
        media_url=render(content.get("media_url", ""), data),
        template=template,
        template_language=content.get("template_language", "") if template else "",
        template_params=[render(value, data) for value in content.get("template_params", [])],
        idempotency_key=delivery_key(delivery.pk),
        next_attempt_at=now + lease(),
    )


def finish_subscriptions(subscription_ids, now):
    """The active ones of these subscriptions with nothing left pending are finished."""
    Subscription.objects.filter(pk__in=subscription_ids, status=Subscription.Status.ACTIVE).exclude(
        pk__in=Delivery.objects.filter(
            subscription_id__in=subscription_ids, status=Status.PENDING
        ).values("subscription_id")
    ).update(status=Subscription.Status.FINISHED, ended_at=now)
