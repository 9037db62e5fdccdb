"""The global inbound webhook: every inbound message of a project, on any channel, is
POSTed to its inbound URL in Picky Assist's documented shape, and a JSON answer holding a
reply ("message-out", optionally "media-url") is sent back to the customer at once through
the same channel (the instant reply).

Deliveries go through webhooks.deliveries: signed, sent by a worker, retried and logged,
so a slow receiver never holds up the ingest of a message.
"""

from urllib.parse import quote_plus

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from teambox.models import Message
from teambox.services import MessagingError, queue_message

from .deliveries import enqueue_many, on_success
from .events import application_of, local_iso
from .models import Delivery, DeliveryAttempt, WebhookSettings

INBOUND = 0  # the documented "direction" of a message the customer sent
MEDIA_URL_MAX_LENGTH = Message._meta.get_field("media_url").max_length
NOTE_MAX_LENGTH = DeliveryAttempt._meta.get_field("note").max_length
http_url = URLValidator(schemes=["http", "https"])


def forward_messages(messages, channel):
    """One delivery per message of a batch received on `channel`, when its project has
    an inbound URL; the settings are read once for the batch."""
    hooks = (
        WebhookSettings.objects.filter(project_id=channel.project_id)
        .exclude(inbound_url="")
        .first()
    )
    if hooks is None:
        return []
    application = application_of(channel)
    items = [
        (hooks.inbound_url, payload(message, channel, application), message) for message in messages
    ]
    return enqueue_many(hooks, Delivery.Kind.INBOUND, items)


def payload(message, channel, application):
    contact = message.contact
    return {
        "number": message.address,
        "name": contact.name if contact is not None else "",
        "message-in": quote_plus(message.body),
        "message-in-raw": message.body,
        # The same text under the spelling of Picky Assist's variables table.
        "message_in_raw": message.body,
        "media-url": message.media_url,
        "application": application,
        "channel_id": channel.pk,
        "direction": INBOUND,
        "unique-id": str(message.pk),
        "project-id": str(message.project_id),
        "time": local_iso(message.created_at, channel.project),
    }


@on_success(Delivery.Kind.INBOUND)
def send_instant_reply(delivery, response):
    """Send the reply the receiver answered with, once per delivery however often it is
    redelivered, and note on the delivery's last attempt what became of the answer."""
    note = instant_reply(delivery, response)
    attempt = DeliveryAttempt.objects.filter(delivery=delivery).order_by("-at", "-id").first()
    DeliveryAttempt.objects.filter(pk=attempt.pk).update(note=note[:NOTE_MAX_LENGTH])


def instant_reply(delivery, response):
    text, media_url, problem = read_reply(response)
    if problem:
        return f"No reply: {problem}"
    message = delivery.message
    if message is None:
        return "No reply: the inbound message it answers was deleted."
    try:
        sent = queue_message(
            message.channel,
            message.contact,
            address=message.address,
            body=text,
            media_url=media_url,
            idempotency_key=f"instant-reply:{delivery.pk}",
        )
    except MessagingError as exc:
        return f"No reply: {exc}"
    return f"Replied with message {sent.pk}."


def read_reply(response):
    """(text, media URL, "") of the reply in the receiver's answer, or ("", "", why there
    is none)."""
    try:
        answer = response.json()
    except ValueError:
        return "", "", "the answer is empty or not JSON."
    if not isinstance(answer, dict):
        return "", "", "the answer is not a JSON object."
    text, media_url = answer.get("message-out") or "", answer.get("media-url") or ""
    if not isinstance(text, str) or not isinstance(media_url, str):
        return "", "", '"message-out" and "media-url" must be text.'
    text, media_url = text.strip(), media_url.strip()
    if not (text or media_url):
        return "", "", 'the answer has no "message-out" or "media-url".'
    if media_url:
        try:
            http_url(media_url)
        except ValidationError:
            return "", "", f'"media-url" is not an http(s) URL: {media_url[:100]}'
        if len(media_url) > MEDIA_URL_MAX_LENGTH:
            return "", "", f'"media-url" is over {MEDIA_URL_MAX_LENGTH} characters long.'
    return text, media_url, ""
