"""WhatsApp Web through a self-hosted WAHA gateway (devlikeapro/waha, HTTP API of 2025.x).

Every call carries `X-Api-Key: <api_key>` (WAHA_API_KEY) and names the channel's WAHA
session. The wire format, endpoint by endpoint, is written down in docs/whatsapp_web.md.
Chats are WAHA chat ids: a person is "<number>@c.us", a group "<digits>@g.us".
Messages: POST /api/sendText {"session", "chatId", "text"}; media by link: POST
/api/sendImage, /api/sendVideo or /api/sendFile {"session", "chatId", "file": {"url",
"mimetype", "filename"}, "caption"}. The answer is the sent message; its WhatsApp id is
"id" (a string "true_<chat>_<id>" or {"id", "_serialized"}) or, with the NOWEB engine, the
Baileys "key": {"id"}. Picky keeps the bare message id, the part webhooks also carry.
Groups: /api/{session}/groups ... (create, list, participants, admins, settings).
Webhooks (see parse_inbound, parse_status, parse_participants) are
{"event", "session", "payload", ...}, signed when the session's webhook has an HMAC key:
X-Webhook-Hmac = hex HMAC-SHA512 of the body, X-Webhook-Hmac-Algorithm: sha512.
"""

import hashlib
import hmac
import mimetypes
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

from django import forms

from crm.services import normalise_number
from picky import outbound

from .base import (
    SEND_TIMEOUT_SECONDS,
    ChannelAdapter,
    ChannelError,
    FetchedMedia,
    InboundMedia,
    Incoming,
    Sent,
    StatusChange,
    WebhookError,
)

# Webhook payloads give Unix seconds, as Meta's do.
from .whatsapp_cloud import from_timestamp, media_type_of, too_large

SERVICE = "The WhatsApp Web gateway"
# WAHA's message.ack values (WAMessageAck): -1 ERROR, 0 PENDING, 1 SERVER, 2 DEVICE,
# 3 READ, 4 PLAYED; PENDING says nothing new.
ACK_STATUSES = {-1: "failed", 1: "submitted", 2: "delivered", 3: "read", 4: "read"}
# Reasons WhatsApp gives, per participant, for a group change it refused (Baileys statuses).
PARTICIPANT_REASONS = {
    "401": "the gateway's number is not allowed to change this group",
    "403": "their privacy settings do not allow being added to groups (send an invite link)",
    "404": "this number is not on WhatsApp",
    "408": "they left the group recently and cannot be added back yet",
    "409": "they are already in the group",
    "500": "the group is full",
}
SEND_PATHS = {"image": "sendImage", "video": "sendVideo"}


class WhatsAppWebCredentialsForm(forms.Form):
    base_url = forms.URLField(
        assume_scheme="https",
        help_text="The WAHA gateway's address, e.g. https://waha.example.com. A gateway on "
        "your own network must be named in PICKY_OUTBOUND_ALLOWLIST.",
    )
    session = forms.RegexField(
        regex=r"^[A-Za-z0-9_-]{1,64}$",
        initial="default",
        help_text='The WAHA session of the WhatsApp number (e.g. "default").',
    )
    api_key = forms.CharField(
        required=False, help_text="WAHA's API key (WAHA_API_KEY), sent as X-Api-Key."
    )
    webhook_hmac_key = forms.CharField(
        required=False,
        min_length=8,
        help_text="The HMAC key of the session's webhook (webhooks[].hmac.key in WAHA); when "
        "set, webhooks must be signed with it.",
    )


@dataclass
class GatewayParticipant:
    number: str
    is_admin: bool = False


@dataclass
class GatewayGroup:
    gateway_id: str
    subject: str
    description: str = ""
    only_admins_post: bool = False
    # None when the gateway's answer did not list them (read them with list_participants).
    participants: list | None = None


@dataclass
class ParticipantOutcome:
    """What became of one number in a participants change: `ok`, else WhatsApp's reason."""

    number: str
    ok: bool
    reason: str = ""


@dataclass
class ParticipantsChange:
    """A group.v2.participants webhook: numbers that joined, left, were promoted or demoted."""

    group_id: str
    action: str  # join, leave, promote, demote
    numbers: list
    at: datetime | None = None


def chat_id(address):
    """WAHA's chat id of a number ("<digits>@c.us") or of a group id (kept as it is)."""
    address = str(address or "").strip()
    if "@" in address:
        return address
    return f"{normalise_number(address)}@c.us"


def number_of(wa_id):
    """The digits of a WhatsApp user id ("919847012345@c.us", "...@s.whatsapp.net"), or ""
    for ids that are not phone numbers (groups, @lid privacy ids)."""
    user, _, server = str(wa_id or "").partition("@")
    if server not in ("c.us", "s.whatsapp.net", ""):
        return ""
    return normalise_number(user.split(":")[0])


def participant_number(item):
    """The phone number of a participant entry: {"id"} or, for @lid ids, {"pn"}."""
    if isinstance(item, str):
        return number_of(item)
    if not isinstance(item, dict):
        return ""
    raw = item.get("id")
    if isinstance(raw, dict):
        raw = raw.get("_serialized") or raw.get("user")
    return number_of(raw) or number_of(item.get("pn") or item.get("phoneNumber"))


def participant_is_admin(item):
    if not isinstance(item, dict):
        return False
    role = item.get("role") or item.get("admin")
    return role in ("admin", "superadmin") or bool(item.get("isAdmin") or item.get("isSuperAdmin"))


def bare_message_id(value):
    """The WhatsApp message id in WAHA's serialized form "true_<chat>_<id>[_<participant>]",
    in {"id", "_serialized"} or as it is."""
    if isinstance(value, dict):
        value = value.get("_serialized") or value.get("id") or ""
    value = str(value or "")
    parts = value.split("_")
    if len(parts) >= 3 and parts[0] in ("true", "false"):
        return parts[2]
    return value


class WhatsAppWebAdapter(ChannelAdapter):
    kind = "whatsapp_web"
    label = "WhatsApp Web"
    credentials_form = WhatsAppWebCredentialsForm
    secret_credentials = ("api_key", "webhook_hmac_key")

    @property
    def base_url(self):
        return str(self.credentials.get("base_url") or "").rstrip("/")

    @property
    def session(self):
        return str(self.credentials.get("session") or "default")

    @property
    def headers(self):
        key = self.credentials.get("api_key")
        return {"X-Api-Key": key} if key else {}

    def groups_url(self, *parts):
        path = "/".join(quote(str(part), safe="@.") for part in parts)
        url = f"{self.base_url}/api/{quote(self.session)}/groups"
        return f"{url}/{path}" if path else url

    # Calls ------------------------------------------------------------------------------

    def call(self, what, method, url, body=None):
        """One call to the gateway: its JSON answer (None when empty). ChannelError with the
        gateway's reason unless it answers 2xx; 5xx, 429 and network errors may pass."""
        if not self.base_url:
            raise ChannelError(f"The channel {self.channel.name!r} has no gateway address.")
        try:
            response = outbound.send(
                method, url, headers=self.headers, json_body=body, timeout=SEND_TIMEOUT_SECONDS
            )
        except outbound.OutboundError as exc:
            raise ChannelError(
                f"{SERVICE} not reached for {what}: {exc.message}", permanent=not exc.retryable
            ) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not response.ok:
            raise ChannelError(
                f"{SERVICE} refused {what} (HTTP {response.status}): "
                f"{error_text(answer, response.text)}",
                permanent=response.status < 500 and response.status != 429,
            )
        return answer

    # Messages ---------------------------------------------------------------------------

    def send_text(self, message):
        return self.send_text_to(message.address, message.body)

    def send_media(self, message):
        return self.send_media_to(message.address, message.media_url, message.body)

    def send_text_to(self, address, text):
        """Send `text` to a number or a group id; returns Sent."""
        body = {"session": self.session, "chatId": chat_id(address), "text": text}
        return self.sent(self.call("the message", "POST", f"{self.base_url}/api/sendText", body))

    def send_media_to(self, address, media_url, caption=""):
        """Send the file at `media_url` (with `caption`) to a number or a group id."""
        path = urlsplit(media_url).path
        filename = path.rsplit("/", 1)[-1] or "file"
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        body = {
            "session": self.session,
            "chatId": chat_id(address),
            "file": {"url": media_url, "mimetype": mimetype, "filename": filename},
        }
        if caption:
            body["caption"] = caption
        endpoint = SEND_PATHS.get(media_type_of(media_url), "sendFile")
        return self.sent(self.call("the media", "POST", f"{self.base_url}/api/{endpoint}", body))

    def sent(self, answer):
        if isinstance(answer, dict):
            key = answer.get("key") if isinstance(answer.get("key"), dict) else {}
            provider_id = bare_message_id(answer.get("id") or key.get("id"))
            if provider_id:
                return Sent(provider_id=provider_id, response=answer)
        raise ChannelError(f"{SERVICE} answered without a message id: {str(answer)[:300]}")

    # Groups -----------------------------------------------------------------------------

    def create_group(self, subject, numbers):
        """Create a group with `numbers` as members; returns its gateway id."""
        body = {"name": subject, "participants": participants_body(numbers)}
        answer = self.call(f"creating the group {subject!r}", "POST", self.groups_url(), body)
        group_id = ""
        if isinstance(answer, dict):
            raw = answer.get("id") or answer.get("gid")
            group_id = raw.get("_serialized", "") if isinstance(raw, dict) else str(raw or "")
        if not group_id.endswith("@g.us"):
            raise ChannelError(f"{SERVICE} answered without a group id: {str(answer)[:300]}")
        return group_id

    def add_participants(self, group_id, numbers):
        """Add `numbers` to the group: a ParticipantOutcome per number."""
        return self.change_participants(group_id, numbers, "participants/add", "adding")

    def remove_participants(self, group_id, numbers):
        return self.change_participants(group_id, numbers, "participants/remove", "removing")

    def promote_admins(self, group_id, numbers):
        return self.change_participants(group_id, numbers, "admin/promote", "promoting")

    def change_participants(self, group_id, numbers, path, doing):
        numbers = [normalise_number(number) for number in numbers]
        answer = self.call(
            f"{doing} {', '.join('+' + n for n in numbers)} in the group {group_id}",
            "POST",
            self.groups_url(group_id, *path.split("/")),
            {"participants": participants_body(numbers)},
        )
        return participant_outcomes(numbers, answer)

    def set_admins_only(self, group_id, admins_only):
        """Only admins may send messages to the group (or everyone again)."""
        self.call(
            f"the group {group_id}'s who-can-send setting",
            "PUT",
            self.groups_url(group_id, "settings", "security", "messages-admin-only"),
            {"adminsOnly": bool(admins_only)},
        )

    def set_description(self, group_id, description):
        self.call(
            f"the group {group_id}'s description",
            "PUT",
            self.groups_url(group_id, "description"),
            {"description": description},
        )

    def list_participants(self, group_id):
        """The group's members as GatewayParticipants (numbers; @lid members without a known
        number are left out)."""
        answer = self.call(
            f"the members of the group {group_id}",
            "GET",
            self.groups_url(group_id, "participants", "v2"),
        )
        if not isinstance(answer, list):
            raise ChannelError(f"{SERVICE} answered without members: {str(answer)[:300]}")
        return gateway_participants(answer)

    def list_groups(self):
        """The groups the number belongs to, as GatewayGroups."""
        answer = self.call("the list of groups", "GET", self.groups_url())
        # NOWEB answers {id: metadata}, WEBJS and GOWS a list.
        items = list(answer.values()) if isinstance(answer, dict) else answer
        if not isinstance(items, list):
            raise ChannelError(f"{SERVICE} answered without groups: {str(answer)[:300]}")
        return [group for group in map(gateway_group, items) if group is not None]

    # Webhooks ---------------------------------------------------------------------------

    def check_signature(self, body, headers):
        key = self.credentials.get("webhook_hmac_key")
        if not key:
            return True
        given = headers.get("X-Webhook-Hmac", "")
        expected = hmac.new(key.encode(), body, hashlib.sha512).hexdigest()
        return hmac.compare_digest(expected, given.strip().lower())

    def events(self, data, name):
        if not isinstance(data, dict) or not isinstance(data.get("event"), str):
            raise WebhookError('A WAHA webhook body is an object with an "event".')
        session = data.get("session")
        if data["event"] != name or (session and session != self.session):
            return None
        payload = data.get("payload")
        if not isinstance(payload, dict):
            raise WebhookError(f'A WAHA "{name}" webhook without a "payload" object.')
        return payload

    def parse_inbound(self, data):
        payload = self.events(data, "message")
        # Group messages and the number's own messages do not open conversations.
        if payload is None or payload.get("fromMe"):
            return []
        sender = number_of(payload.get("from"))
        if not sender:
            return []
        data_ = payload.get("_data") if isinstance(payload.get("_data"), dict) else {}
        media = self.inbound_media(payload)
        body = str(payload.get("body") or "")
        return [
            Incoming(
                address=sender,
                name=str(data_.get("pushName") or data_.get("notifyName") or ""),
                body=body or (f"[{media.kind}]" if media else ""),
                provider_id=bare_message_id(payload.get("id")),
                received_at=from_timestamp(payload.get("timestamp")),
                payload=payload,
            )
        ]

    @classmethod
    def inbound_media(cls, payload):
        """The file of a received message: WAHA keeps it at payload.media.url, behind its
        API key (fetch_media reads it)."""
        payload = payload if isinstance(payload, dict) else {}
        media = payload.get("media") if isinstance(payload.get("media"), dict) else {}
        if not payload.get("hasMedia") or not media.get("url"):
            return None
        mimetype = str(media.get("mimetype") or "")
        kind = mimetype.split("/")[0]
        return InboundMedia(
            kind=kind if kind in ("image", "video", "audio") else "document",
            media_id=str(media["url"]),
            mime_type=mimetype,
            filename=str(media.get("filename") or ""),
            caption=str(payload.get("body") or ""),
        )

    def fetch_media(self, media_id, max_bytes):
        # The API key goes only to the channel's own gateway.
        if not self.base_url or not media_id.startswith(f"{self.base_url}/"):
            raise ChannelError("This file is not on the channel's WhatsApp Web gateway.")
        try:
            response = outbound.send(
                "GET", media_id, headers=self.headers, timeout=SEND_TIMEOUT_SECONDS,
                max_bytes=max_bytes,
            )  # fmt: skip
        except outbound.ResponseTooLarge as exc:
            raise ChannelError(too_large(None, max_bytes)) from exc
        except outbound.OutboundError as exc:
            raise ChannelError(
                f"{SERVICE} not reached for the file: {exc.message}", permanent=not exc.retryable
            ) from exc
        if not response.ok:
            raise ChannelError(f"{SERVICE} refused the file (HTTP {response.status}).")
        return FetchedMedia(content=response.content, content_type=response.content_type)

    def parse_status(self, data):
        payload = self.events(data, "message.ack")
        if payload is None or payload.get("fromMe") is False:
            return []
        status = ACK_STATUSES.get(payload.get("ack"))
        provider_id = bare_message_id(payload.get("id"))
        if status is None or not provider_id:
            return []
        error = "WhatsApp reported an error sending the message." if status == "failed" else ""
        return [StatusChange(provider_id=provider_id, status=status, error=error)]

    def parse_participants(self, data):
        """The ParticipantsChanges a group.v2.participants webhook carries."""
        payload = self.events(data, "group.v2.participants")
        if payload is None:
            return []
        group = payload.get("group") if isinstance(payload.get("group"), dict) else {}
        action = payload.get("type")
        if not group.get("id") or action not in ("join", "leave", "promote", "demote"):
            raise WebhookError('A WAHA "group.v2.participants" webhook without a group or type.')
        numbers = [
            number
            for number in map(participant_number, payload.get("participants") or [])
            if number
        ]
        return [
            ParticipantsChange(
                group_id=str(group["id"]),
                action=action,
                numbers=numbers,
                at=from_timestamp(payload.get("timestamp")),
            )
        ]


def participants_body(numbers):
    return [{"id": chat_id(number)} for number in numbers]


def participant_outcomes(numbers, answer):
    """A ParticipantOutcome per number from WAHA's answer to a participants change: NOWEB
    (Baileys) answers [{"status": "200", "jid"}], WEBJS {"<id>": {"code", "message"}}; an
    answer naming no number means every number went through."""
    found = {}
    if isinstance(answer, list):
        for item in answer:
            if isinstance(item, dict):
                found[number_of(item.get("jid") or item.get("id"))] = (
                    str(item.get("status") or "200"),
                    "",
                )
    elif isinstance(answer, dict):
        for key, item in answer.items():
            if isinstance(item, dict) and "code" in item:
                found[number_of(key)] = (str(item["code"]), str(item.get("message") or ""))
    outcomes = []
    for number in numbers:
        code, message = found.get(number, ("200", ""))
        if code == "200":
            outcomes.append(ParticipantOutcome(number=number, ok=True))
        else:
            reason = PARTICIPANT_REASONS.get(code) or message or f"WhatsApp answered {code}"
            outcomes.append(ParticipantOutcome(number=number, ok=False, reason=reason))
    return outcomes


def gateway_participants(items):
    participants = []
    for item in items:
        number = participant_number(item)
        if number:
            participants.append(
                GatewayParticipant(number=number, is_admin=participant_is_admin(item))
            )
    return participants


def gateway_group(item):
    """A GatewayGroup of one entry of WAHA's group list (Baileys metadata, WEBJS chat or
    GroupInfo), else None."""
    if not isinstance(item, dict):
        return None
    raw = item.get("id")
    if isinstance(raw, dict):
        raw = raw.get("_serialized")
    group_id = str(raw or "")
    if not group_id.endswith("@g.us"):
        return None
    meta = item.get("groupMetadata") if isinstance(item.get("groupMetadata"), dict) else item
    subject = meta.get("subject") or item.get("name") or group_id
    description = meta.get("description") or meta.get("desc") or ""
    if "membersCanSendMessages" in meta:
        admins_only = not meta["membersCanSendMessages"]
    else:
        admins_only = bool(meta.get("announce"))
    participants = meta.get("participants")
    return GatewayGroup(
        gateway_id=group_id,
        subject=str(subject)[:100],
        description=str(description),
        only_admins_post=admins_only,
        participants=gateway_participants(participants) if isinstance(participants, list) else None,
    )


def error_text(answer, text):
    """The gateway's reason: WAHA answers {"statusCode", "message", "exception": {...}}."""
    if isinstance(answer, dict):
        parts = []
        message = answer.get("message")
        if isinstance(message, list):
            message = "; ".join(map(str, message))
        if message:
            parts.append(str(message))
        exception = answer.get("exception")
        if isinstance(exception, dict) and exception.get("message"):
            parts.append(str(exception["message"]))
        elif answer.get("error") and not parts:
            parts.append(str(answer["error"]))
        if parts:
            return " — ".join(parts)[:300]
    return text[:300]
