"""Messaging services: queueing, sending, the sweep (inbound webhooks: inbound.py).

Sending is at most once: a worker claims a queued message (`sending_since`)
before calling the provider. A claim that outlives its lease means the worker
died mid-send; the message is then marked failed rather than sent again, as
nobody knows whether it went out (an admin action retries it on purpose).
Transient provider errors put the message back in the queue with a backoff;
the sweep, not a broker countdown, sends it again when due.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from crm import services as crm
from picky.names import name_is

from .channels import ChannelError, adapter_for
from .message_log import record_outbound
from .models import Broadcast, Channel, Message
from .queue import enqueue_broadcast_batch, enqueue_message
from .signals import message_statuses_changed

logger = logging.getLogger(__name__)

SESSION_WINDOW = timedelta(hours=24)
MAX_SEND_ATTEMPTS = 4
RETRY_BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10))
SWEEP_BATCH = 500


class MessagingError(Exception):
    """A message cannot be sent as asked; the message says why."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class MessageRefused(MessagingError):
    """The contact must not be messaged (blacklisted, opted out)."""


def lease():
    return timedelta(seconds=settings.PICKY_MESSAGE_LEASE_SECONDS)


# Channels and sessions -----------------------------------------------------------


def find_channel(project, name):
    """The project's channel called `name`, whatever the case, or None."""
    return Channel.objects.filter(name_is(str(name or "").strip()), project=project).first()


def unknown_channel_message(project, name):
    """What a user reads when `name` is none of the project's channels: their names."""
    names = list(
        Channel.objects.filter(project=project).order_by("name").values_list("name", flat=True)
    )
    if not names:
        return (
            f"No channel named {name!r} in this project, which has no channel yet: add one "
            "under Teambox → Channels."
        )
    return f"No channel named {name!r} in this project. Its channels: {', '.join(names)}."


def channel_named(project, name):
    """The project's enabled channel called `name`."""
    channel = find_channel(project, name)
    if channel is None:
        raise MessagingError(unknown_channel_message(project, name))
    if not channel.enabled:
        raise MessagingError(f"The channel {channel.name!r} is disabled.")
    return channel


def email_channel(project, name=""):
    """The e-mail channel called `name`, or without a name the project's first one."""
    if name:
        channel = channel_named(project, name)
        if channel.kind != Channel.Kind.EMAIL:
            raise MessagingError(f"The channel {channel.name!r} is not an e-mail channel.")
        return channel
    channel = Channel.objects.filter(project=project, kind=Channel.Kind.EMAIL, enabled=True).first()
    if channel is None:
        raise MessagingError(
            "This project has no e-mail channel; add one under Teambox → Channels."
        )
    return channel


def contacts_in_session(channel, contact_ids, now=None):
    """Which of these contacts wrote to `channel` within the last 24 hours."""
    since = (now or timezone.now()) - SESSION_WINDOW
    return set(
        Message.objects.filter(
            channel=channel,
            direction=Message.Direction.IN,
            contact_id__in=list(contact_ids),
            created_at__gte=since,
        ).values_list("contact_id", flat=True)
    )


def addresses_in_session(channel, addresses, now=None):
    """Which of these numbers or e-mail addresses wrote to `channel` within the last 24
    hours (for recipients that are no contact: the project's members)."""
    since = (now or timezone.now()) - SESSION_WINDOW
    return set(
        Message.objects.filter(
            channel=channel,
            direction=Message.Direction.IN,
            address__in=list(addresses),
            created_at__gte=since,
        ).values_list("address", flat=True)
    )


def session_open(channel, contact, now=None, address=""):
    """Whether `contact` (or, without one, `address`) wrote to `channel` within 24 hours."""
    if contact is None:
        return address in addresses_in_session(channel, [address], now)
    return contact.pk in contacts_in_session(channel, [contact.pk], now)


def address_of(channel, contact):
    """Where `contact` is reached on `channel`: a number, or an e-mail address."""
    if adapter_for(channel).address_kind == "email":
        if not contact.email:
            raise MessagingError(f"{contact} has no e-mail address.")
        return contact.email
    if not contact.number:
        raise MessagingError(f"{contact} has no WhatsApp number.")
    return contact.number


# Queueing and sending --------------------------------------------------------------


def check_content(channel, body="", media_url="", template=""):
    adapter = adapter_for(channel)
    if not (body or media_url or template):
        raise MessagingError("Give the message a text, a media URL or a template.")
    if template and not adapter.supports_templates:
        raise MessagingError(f"{adapter.label} channels cannot send WhatsApp templates.")
    if media_url and not template and not adapter.supports_media:
        raise MessagingError(f"{adapter.label} channels cannot send media.")


def queue_message(
    channel,
    contact,
    *,
    address="",
    body="",
    media_url="",
    template="",
    template_language="en",
    template_params=(),
    subject="",
    reply_to="",
    optout_list="",
    idempotency_key=None,
):
    """Queue one outbound message to `contact` and send it once committed; it goes on
    the contact's timeline and answers their conversation on the channel.

    `address`: where it goes, by default the contact's number or e-mail address. Without
    a contact (None), a message to `address` that makes nobody a contact: a project
    member's number, an internal notification.

    Raises MessageRefused for a blacklisted or opted-out contact and
    MessagingError when the message cannot go out as asked (no address, an
    official channel outside the 24-hour session without a template, ...).
    With `idempotency_key`, a second call returns the first call's message.
    """
    if idempotency_key:
        existing = Message.objects.filter(
            project_id=channel.project_id, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return existing
    reason = crm.refusal_reason(contact, optout_list) if contact is not None else ""
    if reason:
        raise MessageRefused(f"Not sent to {contact}: {reason}")
    check_content(channel, body, media_url, template)
    address = address or address_of(channel, contact)
    if channel.is_official and not template and not session_open(channel, contact, address=address):
        raise MessagingError(
            f"{contact or address} has not written to {channel.name!r} in the last 24 hours, so "
            "WhatsApp only accepts a template: choose an approved template for this message."
        )
    now = timezone.now()
    try:
        with transaction.atomic():
            message = Message.objects.create(
                project_id=channel.project_id,
                channel=channel,
                contact=contact,
                direction=Message.Direction.OUT,
                address=address,
                body=body,
                media_url=media_url,
                template=template,
                template_language=template_language if template else "",
                template_params=list(template_params) if template else [],
                subject=subject,
                reply_to=reply_to,
                idempotency_key=idempotency_key or None,
                next_attempt_at=now + lease(),
            )
    except IntegrityError:
        # The same key queued concurrently: that message is this one.
        return Message.objects.get(project_id=channel.project_id, idempotency_key=idempotency_key)
    record_outbound(message)
    transaction.on_commit(lambda: enqueue_message(message.pk))
    return message


def deliver_message(message_id):
    """Send a queued message through its channel's adapter (the Celery task's body)."""
    now = timezone.now()
    claimed = Message.objects.filter(
        pk=message_id, status=Message.Status.QUEUED, sending_since__isnull=True
    ).update(sending_since=now, attempts=F("attempts") + 1)
    if not claimed:
        return None
    message = Message.objects.select_related("channel").get(pk=message_id)
    try:
        sent = adapter_for(message.channel).send(message)
    except ChannelError as exc:
        return send_failed(message, exc.message, exc.permanent)
    except Exception as exc:
        logger.exception("Sending message %s crashed", message_id)
        return send_failed(message, f"Internal error: {type(exc).__name__}: {exc}", True)
    fields = sent_fields(sent, timezone.now())
    Message.objects.filter(pk=message.pk).update(**fields)
    for name, value in fields.items():
        setattr(message, name, value)
    status_changed(message)
    return message


def deliver_messages(message_ids):
    """Send a batch of queued messages (a sequence sweep's), each at most once as
    deliver_message sends one, with the claim, the read and the writes of their results done
    once for the batch: a few statements, however many messages. Returns the messages sent."""
    now = timezone.now()
    with transaction.atomic():
        claimed = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(pk__in=message_ids, status=Message.Status.QUEUED, sending_since__isnull=True)
            .values_list("pk", flat=True)
        )
        Message.objects.filter(pk__in=claimed).update(sending_since=now, attempts=F("attempts") + 1)
    sent = []
    for message in Message.objects.filter(pk__in=claimed).select_related("channel"):
        try:
            result = adapter_for(message.channel).send(message)
        except ChannelError as exc:
            send_failed(message, exc.message, exc.permanent)
            continue
        except Exception as exc:
            logger.exception("Sending message %s crashed", message.pk)
            send_failed(message, f"Internal error: {type(exc).__name__}: {exc}", True)
            continue
        sent.append((message, result))
    done = timezone.now()
    by_status = {}
    for message, result in sent:
        fields = sent_fields(result, done)
        for name, value in fields.items():
            setattr(message, name, value)
        by_status.setdefault(message.status, (fields, []))[1].append(message.pk)
    # What differs between the messages (the provider's id, its answer when it gave one) in
    # one statement, the rest in one per status.
    messages = [message for message, _ in sent]
    varying = ["provider_id"]
    if any(message.payload is not None for message in messages):
        varying.append("payload")
    for fields, ids in by_status.values():
        common = {name: value for name, value in fields.items() if name not in varying}
        Message.objects.filter(pk__in=ids).update(**common)
    Message.objects.bulk_update(messages, varying, batch_size=500)
    if messages:
        transaction.on_commit(
            lambda: message_statuses_changed.send(sender=Message, messages=messages), robust=True
        )
    return messages


def sent_fields(sent, done):
    """What a message's row says once its channel took it (`sent`, at `done`)."""
    fields = {
        "status": Message.Status.DELIVERED if sent.delivered else Message.Status.SUBMITTED,
        "provider_id": sent.provider_id,
        "payload": sent.response,
        "submitted_at": done,
        "sending_since": None,
        "next_attempt_at": None,
        "error": "",
    }
    if sent.delivered:
        fields["delivered_at"] = done
    return fields


def send_failed(message, error, permanent):
    now = timezone.now()
    if permanent or message.attempts >= MAX_SEND_ATTEMPTS:
        fields = {
            "status": Message.Status.FAILED,
            "failed_at": now,
            "next_attempt_at": None,
            "error": error if permanent else f"{error} (gave up after {message.attempts} tries)",
        }
    else:
        backoff = RETRY_BACKOFF[min(message.attempts, len(RETRY_BACKOFF)) - 1]
        fields = {"next_attempt_at": now + backoff, "error": error}
    fields["sending_since"] = None
    Message.objects.filter(pk=message.pk).update(**fields)
    for name, value in fields.items():
        setattr(message, name, value)
    if message.status == Message.Status.FAILED:
        status_changed(message)
    return message


def status_changed(message):
    transaction.on_commit(
        lambda: message_statuses_changed.send(sender=Message, messages=[message]), robust=True
    )


def retry_messages(messages):
    """Queue failed outbound messages again; returns how many."""
    now = timezone.now()
    ids = list(
        messages.filter(status=Message.Status.FAILED, direction=Message.Direction.OUT).values_list(
            "pk", flat=True
        )
    )
    Message.objects.filter(pk__in=ids).update(
        status=Message.Status.QUEUED,
        attempts=0,
        error="",
        failed_at=None,
        sending_since=None,
        next_attempt_at=now + lease(),
    )
    for message_id in ids:
        transaction.on_commit(lambda message_id=message_id: enqueue_message(message_id))
    return len(ids)


# The sweep ------------------------------------------------------------------------------


def sweep(now=None):
    """Fail interrupted sends, send due queued messages, go on with broadcasts.

    Returns (interrupted, enqueued messages, broadcasts resumed).
    """
    now = now or timezone.now()
    interrupted = Message.objects.filter(
        status=Message.Status.QUEUED, sending_since__lt=now - lease()
    ).update(
        status=Message.Status.FAILED,
        failed_at=now,
        sending_since=None,
        next_attempt_at=None,
        error="Sending was interrupted (the worker stopped) and may or may not have reached "
        "the contact; it is not sent again on its own so nobody gets it twice. Use "
        '"Retry" to send it again.',
    )
    due = list(
        Message.objects.filter(
            status=Message.Status.QUEUED, sending_since__isnull=True, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    Message.objects.filter(pk__in=due).update(next_attempt_at=now + lease())
    for message_id in due:
        enqueue_message(message_id)
    broadcasts = list(
        Broadcast.objects.filter(
            Q(status=Broadcast.Status.WAITING, resume_at__lte=now)
            | Q(status=Broadcast.Status.RUNNING, updated_at__lt=now - lease())
        ).values_list("pk", flat=True)
    )
    Broadcast.objects.filter(pk__in=broadcasts).update(
        status=Broadcast.Status.RUNNING, resume_at=None, updated_at=now
    )
    for broadcast_id in broadcasts:
        enqueue_broadcast_batch(broadcast_id)
    return interrupted, len(due), len(broadcasts)
