"""Broadcasts: one message to a segment of the project's contacts, in batches.

Starting a broadcast snapshots its segment into recipient rows (the skipped
ones with their reason). Each batch (a Celery task) locks the broadcast and
its channel, takes as many pending recipients as the batch size and the
channel's daily cap allow, re-checks blacklist and opt-out, queues one
message per recipient and sends them. When the cap is reached the broadcast
waits (`resume_at`: when the oldest message of the 24-hour window leaves it)
and the sweep resumes it; long waits never sit in the broker.

The daily cap counts distinct recipients of all outbound messages of the
channel in the last 24 hours (a WhatsApp number's tier limit counts them all).
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from crm import services as crm
from picky.templating import render, template_errors

from .channels import adapter_for
from .message_log import record_outbound_batch
from .models import Broadcast, BroadcastRecipient, Channel, Message
from .queue import enqueue_broadcast_batch
from .services import (
    SESSION_WINDOW,
    MessagingError,
    check_content,
    contacts_in_session,
    lease,
)
from .services import deliver_message as deliver

CAP_WINDOW = timedelta(hours=24)
SEGMENT_KEYS = ("tags", "categories", "attributes", "interacted_within_hours")
RECIPIENT_INSERT_BATCH = 2000


def segment_errors(segment):
    """What is wrong with a segment, as (key, message) pairs."""
    if not isinstance(segment, dict):
        return [("segment", "Give the segment as a JSON object.")]
    errors = [
        (key, f"Unknown segment key; use {', '.join(SEGMENT_KEYS)}.")
        for key in segment
        if key not in SEGMENT_KEYS
    ]
    for key in ("tags", "categories"):
        value = segment.get(key)
        if value not in (None, "") and not isinstance(value, (list, str)):
            errors.append((key, "Give a list of names (or one comma-separated text)."))
    attributes = segment.get("attributes")
    if attributes not in (None, "") and not isinstance(attributes, dict):
        errors.append(("attributes", 'Give an object of {"attribute": "value"}.'))
    hours = segment.get("interacted_within_hours")
    if hours not in (None, ""):
        try:
            if float(hours) <= 0:
                raise ValueError
        except (TypeError, ValueError):
            errors.append(("interacted_within_hours", "Give a number of hours above 0."))
    return errors


def create_broadcast(
    channel,
    *,
    name,
    segment=None,
    optout_list="",
    body="",
    media_url="",
    template="",
    template_language="en",
    template_params=(),
    context=None,
    batch_size=None,
    idempotency_key=None,
):
    """A draft broadcast; raises MessagingError when it could never be sent."""
    errors = segment_errors(segment or {})
    if errors:
        raise MessagingError("; ".join(f"segment.{key}: {message}" for key, message in errors))
    check_content(channel, body, media_url, template)
    for text in (body, *map(str, template_params)):
        for error in template_errors(text):
            raise MessagingError(error)
    if idempotency_key:
        existing = Broadcast.objects.filter(
            project_id=channel.project_id, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return existing
    return Broadcast.objects.create(
        project_id=channel.project_id,
        channel=channel,
        name=name,
        segment=segment or {},
        optout_list=optout_list,
        body=body,
        media_url=media_url,
        template=template,
        template_language=template_language if template else "",
        template_params=list(template_params) if template else [],
        context=context or {},
        batch_size=batch_size or settings.PICKY_BROADCAST_BATCH_SIZE,
        idempotency_key=idempotency_key or None,
    )


def segment_of(broadcast):
    segment = broadcast.segment or {}
    return crm.segment_contacts(
        broadcast.project,
        tags=segment.get("tags") or (),
        categories=segment.get("categories") or (),
        attributes=segment.get("attributes") or None,
        interacted_within_hours=segment.get("interacted_within_hours") or None,
    )


def start_broadcast(broadcast):
    """Snapshot the segment into recipients and start sending; returns the broadcast."""
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if broadcast.status != Broadcast.Status.DRAFT:
            raise MessagingError(f"The broadcast {broadcast.name!r} has already been started.")
        contacts = segment_of(broadcast)
        matched = list(contacts.values_list("pk", flat=True))
        reasons = skip_reasons(broadcast, contacts)
        for start in range(0, len(matched), RECIPIENT_INSERT_BATCH):
            BroadcastRecipient.objects.bulk_create(
                [
                    BroadcastRecipient(
                        broadcast=broadcast,
                        contact_id=contact_id,
                        status=(
                            BroadcastRecipient.Status.SKIPPED
                            if contact_id in reasons
                            else BroadcastRecipient.Status.PENDING
                        ),
                        reason=reasons.get(contact_id, ""),
                    )
                    for contact_id in matched[start : start + RECIPIENT_INSERT_BATCH]
                ]
            )
        now = timezone.now()
        broadcast.total = len(matched)
        broadcast.skipped = len(reasons)
        broadcast.status = Broadcast.Status.RUNNING
        broadcast.started_at = now
        if broadcast.total == broadcast.skipped:
            broadcast.status = Broadcast.Status.DONE
            broadcast.finished_at = now
        broadcast.save()
    if broadcast.status == Broadcast.Status.RUNNING:
        transaction.on_commit(lambda: enqueue_broadcast_batch(broadcast.pk))
    return broadcast


def skip_reasons(broadcast, contacts):
    """{contact id: why it is skipped} for the segment's contacts that cannot receive it."""
    reasons = {}
    for contact_id in contacts.filter(blacklisted=True).values_list("pk", flat=True):
        reasons[contact_id] = "The contact is blacklisted."
    if broadcast.optout_list:
        opted_out = crm.opted_out(contacts, broadcast.optout_list)
        for contact_id in opted_out.values_list("pk", flat=True):
            reasons.setdefault(contact_id, f"The contact opted out of {broadcast.optout_list!r}.")
    if adapter_for(broadcast.channel).address_kind == "email":
        missing, reason = contacts.filter(email=""), "The contact has no e-mail address."
    else:
        missing, reason = contacts.filter(number=""), "The contact has no WhatsApp number."
    for contact_id in missing.values_list("pk", flat=True):
        reasons.setdefault(contact_id, reason)
    return reasons


def remaining_capacity(channel, now=None):
    """Recipients the channel may still reach in the current 24 hours (None: no cap)."""
    if channel.daily_cap is None:
        return None
    return max(0, channel.daily_cap - recipients_in_window(channel, now).count())


def recipients_in_window(channel, now=None):
    since = (now or timezone.now()) - CAP_WINDOW
    return (
        Message.objects.filter(
            channel=channel, direction=Message.Direction.OUT, created_at__gte=since
        )
        .exclude(status=Message.Status.FAILED, provider_id="")
        .values("address")
        .distinct()
    )


def capacity_frees_at(channel, now=None):
    """When the oldest message of the cap window leaves it."""
    now = now or timezone.now()
    oldest = (
        Message.objects.filter(
            channel=channel, direction=Message.Direction.OUT, created_at__gte=now - CAP_WINDOW
        )
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return (oldest + CAP_WINDOW) if oldest else now


def send_batch(broadcast_id):
    """Queue and send one batch; returns whether another batch should follow."""
    message_ids, more = queue_batch(broadcast_id)
    for message_id in message_ids:
        deliver(message_id)
    return more


@transaction.atomic
def queue_batch(broadcast_id):
    """Queue the next batch's messages; returns (message ids, more to do)."""
    now = timezone.now()
    broadcast = Broadcast.objects.select_for_update().filter(pk=broadcast_id).first()
    if broadcast is None or broadcast.status != Broadcast.Status.RUNNING:
        return [], False
    # The channel row lock serialises batches of every broadcast on the channel,
    # so two of them cannot both spend the last of the daily cap.
    channel = Channel.objects.select_for_update().get(pk=broadcast.channel_id)
    capacity = remaining_capacity(channel, now)
    if capacity == 0:
        broadcast.status = Broadcast.Status.WAITING
        broadcast.resume_at = capacity_frees_at(channel, now)
        broadcast.save(update_fields=["status", "resume_at", "updated_at"])
        return [], False
    size = broadcast.batch_size if capacity is None else min(broadcast.batch_size, capacity)
    recipients = list(
        broadcast.recipients.filter(status=BroadcastRecipient.Status.PENDING)
        .select_related("contact__owner")
        .prefetch_related("contact__tags", "contact__categories", "contact__optouts")
        .order_by("pk")[:size]
    )
    in_session = set()
    if channel.is_official and not broadcast.template:
        in_session = contacts_in_session(channel, [r.contact_id for r in recipients], now)
    messages = []
    for recipient in recipients:
        reason = recipient_refusal(broadcast, channel, recipient.contact, in_session)
        if reason:
            recipient.status, recipient.reason = BroadcastRecipient.Status.SKIPPED, reason
            continue
        message = personal_message(broadcast, channel, recipient.contact, now)
        recipient.status, recipient.message = BroadcastRecipient.Status.SENT, message
        messages.append(message)
    Message.objects.bulk_create(messages)
    record_outbound_batch(messages)
    BroadcastRecipient.objects.bulk_update(recipients, ["status", "reason", "message"])
    broadcast.sent += len(messages)
    broadcast.skipped += len(recipients) - len(messages)
    more = broadcast.recipients.filter(status=BroadcastRecipient.Status.PENDING).exists()
    if not more:
        broadcast.status = Broadcast.Status.DONE
        broadcast.finished_at = now
    broadcast.save()
    return [message.pk for message in messages], more


def recipient_refusal(broadcast, channel, contact, in_session):
    reason = crm.refusal_reason(contact, broadcast.optout_list)
    if reason:
        return reason
    if channel.is_official and not broadcast.template and contact.pk not in in_session:
        hours = int(SESSION_WINDOW.total_seconds() // 3600)
        return f"No message from the contact in the last {hours} hours and no template given."
    return ""


def personal_message(broadcast, channel, contact, now):
    """The broadcast's message for one contact, its `{{ contact.* }}` filled in."""
    data = {**broadcast.context, "contact": crm.contact_as_context(contact)}
    email = adapter_for(channel).address_kind == "email"
    return Message(
        project_id=broadcast.project_id,
        channel=channel,
        contact=contact,
        direction=Message.Direction.OUT,
        address=contact.email if email else contact.number,
        body=render(broadcast.body, data),
        subject=broadcast.name if email else "",
        media_url=render(broadcast.media_url, data),
        template=broadcast.template,
        template_language=broadcast.template_language,
        template_params=[render(str(value), data) for value in broadcast.template_params],
        broadcast=broadcast,
        next_attempt_at=now + lease(),
    )


def cancel_broadcast(broadcast):
    """Stop sending; messages already queued still go out."""
    return Broadcast.objects.filter(
        pk=broadcast.pk,
        status__in=[Broadcast.Status.DRAFT, Broadcast.Status.RUNNING, Broadcast.Status.WAITING],
    ).update(status=Broadcast.Status.CANCELLED, finished_at=timezone.now())


def progress(broadcast):
    """Counts of the broadcast's messages by status, for the admin."""
    counts = dict.fromkeys(
        [Message.Status.QUEUED, Message.Status.SUBMITTED, Message.Status.DELIVERED,
         Message.Status.READ, Message.Status.FAILED], 0
    )  # fmt: skip
    for row in broadcast.messages.values("status").order_by().annotate(count=Count("pk")):
        counts[row["status"]] = row["count"]
    return counts
