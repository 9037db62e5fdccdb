"""The Push API's service (POST /api/v2/push, the view is teambox/api_push.py): one call
queues a message to each number of its `data`, through the channel its `application`
names, in the documented Picky Assist v2 format.

Not to be confused with the push_api channel kind (teambox/channels/push_api.py), through
which Picky sends to someone else's push endpoint.

Each entry succeeds or fails on its own: a bad number, a refused media URL or a contact
who must not be messaged fails that entry only. Messages go out through `queue_message`,
once each (the key is the call's id and the entry's index), and carry the call (`push`)
and the caller's `reference_number` for delivery reports.
"""

import re
from dataclasses import dataclass, field
from enum import IntEnum

from django.db import transaction
from django.db.models import Q

from crm import services as crm
from picky import outbound

from .models import Channel, Message, Push
from .services import MessagingError, queue_message


class PushStatus(IntEnum):
    """The `status` of an answer, of the call or of one entry of its `data`."""

    SUCCESS = 100
    INVALID_TOKEN = 101
    IP_NOT_ALLOWED = 102
    INVALID_FIELD = 103
    INVALID_NUMBER = 104
    UNKNOWN_APPLICATION = 105
    CHANNEL_DISABLED = 106
    MEDIA_REFUSED = 107
    MESSAGE_REFUSED = 108
    RATE_LIMITED = 109
    INVALID_BODY = 110


class PushError(Exception):
    """The call as a whole cannot be served; `status` is a PushStatus."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


APPLICATION_NAMES = {
    1: "WhatsApp Personal",
    2: "WhatsApp Business",
    3: "SMS",
    4: "Call",
    5: "Facebook Messenger",
    8: "WhatsApp Official",
    10: "WhatsApp Web Automation",
    101: "WhatsApp Cloud API",
}
# The channel kinds that serve each application code, the first enabled one found first.
# Phone and web automation reach WhatsApp through a push endpoint; the sandbox stands in
# for every WhatsApp code, so a client can be tried before WhatsApp is connected.
AUTOMATION = (Channel.Kind.PUSH_API, Channel.Kind.SANDBOX)
# Web automation is first a WhatsApp Web (WAHA) channel.
WEB_AUTOMATION = (Channel.Kind.WHATSAPP_WEB, *AUTOMATION)
OFFICIAL = (Channel.Kind.WHATSAPP_CLOUD, Channel.Kind.SANDBOX)
APPLICATION_KINDS = {1: AUTOMATION, 2: AUTOMATION, 10: WEB_AUTOMATION, 8: OFFICIAL,
                     101: OFFICIAL, 3: (), 4: (), 5: ()}  # fmt: skip

# Digits with country code, without + or leading zeros (crm.models.NUMBER_PATTERN).
PUSH_NUMBER = re.compile(r"^[1-9][0-9]{6,14}$")
MEDIA_URL_MAX_LENGTH = Message._meta.get_field("media_url").max_length
MEDIA_CHECK_SECONDS = 10
# HEAD answers of servers that only serve GET: the file may still be there.
HEAD_NOT_SUPPORTED = {405, 501}


@dataclass
class PushCall:
    """A call's fields, read and checked by the view."""

    application: str
    data: list
    globalmessage: str = ""
    globalmedia: str = ""
    template_id: str = ""
    language: str = ""
    template_message: list = field(default_factory=list)
    reference_number: str = ""


class EntryFailed(Exception):
    """One entry of `data` cannot be sent; the others still are."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


# The application -------------------------------------------------------------------


def channel_for_application(project, application):
    """The project's enabled channel `application` names: a documented code, the
    channel's own number, its id or its name. Raises PushError."""
    value = str(application).strip()
    if value.isdigit() and int(value) in APPLICATION_KINDS:
        return channel_for_code(project, int(value))
    condition = Q(name__iexact=value)
    if value.isdigit():
        condition |= Q(number=value) | Q(pk=int(value))
    channel = Channel.objects.filter(condition, project=project).order_by("pk").first()
    if channel is None:
        raise PushError(
            PushStatus.UNKNOWN_APPLICATION,
            f"No channel of this project is application {value!r}: give an application code "
            f"({codes_listed()}), or a channel's number or id.",
        )
    return enabled(channel)


def channel_for_code(project, code):
    kinds = APPLICATION_KINDS[code]
    name = APPLICATION_NAMES[code]
    if not kinds:
        raise PushError(
            PushStatus.UNKNOWN_APPLICATION,
            f"Picky has no {name} channels (application {code}): send through a WhatsApp "
            "application or a channel's number or id.",
        )
    channels = sorted(
        Channel.objects.filter(project=project, kind__in=kinds),
        key=lambda channel: (not channel.enabled, kinds.index(channel.kind), channel.pk),
    )
    if not channels:
        raise PushError(
            PushStatus.UNKNOWN_APPLICATION,
            f"This project has no {name} channel (application {code}); add one under "
            "Teambox → Channels.",
        )
    return enabled(channels[0])


def enabled(channel):
    if not channel.enabled:
        raise PushError(
            PushStatus.CHANNEL_DISABLED,
            f"The channel {channel.name!r} is disabled: enable it under Teambox → Channels.",
        )
    return channel


def codes_listed():
    return ", ".join(f"{code} {name}" for code, name in APPLICATION_NAMES.items())


# Media -----------------------------------------------------------------------------


def media_problem(url):
    """Why the media at `url` cannot be sent, or "": it must be a public address that
    serves the file itself, as redirects are refused."""
    if len(url) > MEDIA_URL_MAX_LENGTH:
        return f"The media URL is over {MEDIA_URL_MAX_LENGTH} characters long."
    try:
        response = outbound.send("HEAD", url, timeout=MEDIA_CHECK_SECONDS)
    except outbound.TooManyRedirects:
        return f"The media URL {url} redirects; give the file's own address."
    except outbound.OutboundError as exc:
        return f"The media URL cannot be reached: {exc.message}"
    if response.redirects:
        return (
            f"The media URL {url} redirects to {response.url}; give the file's own address "
            "(media URLs that redirect are refused)."
        )
    if response.status >= 400 and response.status not in HEAD_NOT_SUPPORTED:
        return f"The media URL {url} answers HTTP {response.status}: the file cannot be fetched."
    return ""


def media_of(entry, call):
    return str(entry.get("media-url") or entry.get("media") or call.globalmedia or "").strip()


# The call --------------------------------------------------------------------------


def push_messages(project, call, api_token=None):
    """Queue the call's messages; returns (push, one answer item per entry of `data`).

    Raises PushError when the application names no usable channel."""
    channel = channel_for_application(project, call.application)
    # Checked before the transaction: a slow media server holds no database lock.
    media_problems = {url: media_problem(url) for url in {media_of(e, call) for e in call.data}}
    media_problems.pop("", None)
    with transaction.atomic():
        push = Push.objects.create(
            project=project,
            channel=channel,
            api_token=api_token,
            reference_number=call.reference_number,
            numbers=len(call.data),
        )
        items = [push_entry(push, call, index, entry, media_problems)
                 for index, entry in enumerate(call.data)]  # fmt: skip
        push.queued = sum(1 for item in items if item["status"] == PushStatus.SUCCESS)
        Push.objects.filter(pk=push.pk).update(queued=push.queued)
    return push, items


def push_entry(push, call, index, entry, media_problems):
    number = entry.get("number")
    try:
        message = queue_entry(push, call, index, entry, media_problems)
    except EntryFailed as failed:
        return {"msg_id": None, "number": answer_number(number), "status": failed.status,
                "message": failed.message}  # fmt: skip
    return {"msg_id": str(message.pk), "number": message.address, "status": PushStatus.SUCCESS,
            "message": "Queued"}  # fmt: skip


def queue_entry(push, call, index, entry, media_problems):
    channel = push.channel
    number = entry_number(entry.get("number"))
    body = text_of(entry.get("message")) or call.globalmessage
    media_url = media_of(entry, call)
    template_params = entry_values(entry, call)
    if not (body or media_url or call.template_id):
        raise EntryFailed(
            PushStatus.INVALID_FIELD,
            'Nothing to send: give this entry a "message", or the call a "globalmessage", '
            '"globalmedia" or "template_id".',
        )
    if media_problems.get(media_url):
        raise EntryFailed(PushStatus.MEDIA_REFUSED, media_problems[media_url])
    try:
        contact = crm.upsert_contact(push.project, number)
        message = queue_message(
            channel,
            contact,
            body=body,
            media_url=media_url,
            template=call.template_id,
            template_language=call.language or "en",
            template_params=template_params,
            idempotency_key=f"push:{push.pk}:{index}",
        )
    except MessagingError as exc:
        raise EntryFailed(PushStatus.MESSAGE_REFUSED, exc.message) from exc
    reference = text_of(entry.get("reference_number")) or call.reference_number
    Message.objects.filter(pk=message.pk).update(push=push, reference_number=reference[:100])
    return message


def entry_number(value):
    number = text_of(value)
    if not number:
        raise EntryFailed(PushStatus.INVALID_NUMBER, 'This entry has no "number".')
    if not PUSH_NUMBER.match(number):
        raise EntryFailed(
            PushStatus.INVALID_NUMBER,
            f"{number[:40]!r} is not a valid number: give 7 to 15 digits with the country "
            "code, without + or leading zeros, e.g. 919847012345.",
        )
    return number


def entry_values(entry, call):
    """The template's values: the entry's own `template_message`, else the call's."""
    values = entry.get("template_message")
    if values is None:
        return call.template_message
    if not isinstance(values, list) or any(isinstance(v, (dict, list)) for v in values):
        raise EntryFailed(
            PushStatus.INVALID_FIELD,
            '"template_message" must be a list of values, one per {{n}} of the template.',
        )
    return [text_of(value) for value in values]


def text_of(value):
    """A scalar of the call as text: numbers as written, null as ""."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value).strip()


def answer_number(value):
    return value if isinstance(value, (str, int)) and not isinstance(value, bool) else None
