"""The one interface every channel kind implements.

An adapter wraps a `Channel` row. Outbound: `send_text`, `send_media` and
`send_template` take a queued `Message` and return `Sent` (the provider's
message id) or raise `ChannelError(message, permanent=...)`; `send` picks the
right one. Inbound: `parse_inbound` and `parse_status` turn a webhook body
into `Incoming` messages and `StatusChange`s (and `parse_participants` group
membership changes); `verify_subscription` answers a
provider's webhook handshake; `check_signature` authenticates a webhook;
`inbound_media` reads the media, order or button reply a received message's
payload carries, and `fetch_media` fetches media the provider keeps behind its token.
Each kind declares its settings as a Django form (`credentials_form`) that
validates `Channel.credentials`, and which of them are secrets (`secret_credentials`).
"""

from dataclasses import dataclass, field
from datetime import datetime

from django import forms

from picky import outbound


class ChannelError(Exception):
    """Sending failed. `permanent=False` means trying again later may work."""

    def __init__(self, message, permanent=True):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class WebhookError(Exception):
    """A webhook body this channel cannot read; the message says what is wrong."""


@dataclass
class Sent:
    provider_id: str = ""
    # Channels that deliver on the spot (the sandbox) report delivery at once.
    delivered: bool = False
    response: dict | list | None = None


@dataclass
class Incoming:
    address: str
    body: str = ""
    name: str = ""
    media_url: str = ""
    provider_id: str = ""
    # When the provider says it was sent; None: when the webhook came.
    received_at: datetime | None = None
    payload: dict = field(default_factory=dict)
    # The address the message was sent to (e-mail replies: reply+<token>@...).
    recipient: str = ""


@dataclass
class StatusChange:
    provider_id: str
    status: str  # one of Message.Status: submitted, delivered, read, failed
    error: str = ""
    # When the provider says it happened; None: when the webhook came.
    at: datetime | None = None


@dataclass
class OrderItem:
    product: str
    quantity: str = ""
    price: str = ""
    currency: str = ""


@dataclass
class InboundMedia:
    """What a received message carries beside its text, as the conversation page shows it.

    `kind`: image, video, audio, voice, document, sticker, order or button. Media is
    either a web address (`url`) or a provider's media id (`media_id`) that only the
    channel's adapter can fetch (`fetch_media`)."""

    kind: str
    url: str = ""
    media_id: str = ""
    mime_type: str = ""
    filename: str = ""
    caption: str = ""
    # A button reply: the title of the button the contact pressed.
    title: str = ""
    # An order: its products and the contact's note.
    items: list = field(default_factory=list)


@dataclass
class FetchedMedia:
    content: bytes
    content_type: str
    filename: str = ""


class NoCredentialsForm(forms.Form):
    """A kind that needs no settings."""


class ChannelAdapter:
    kind = ""
    label = ""
    # What a contact is reached at on this channel: "number" or "email".
    address_kind = "number"
    supports_media = True
    supports_templates = False
    credentials_form = NoCredentialsForm
    # Settings that are secrets: masked in every page, never shown back (picky/secret_values).
    secret_credentials = ()

    def __init__(self, channel):
        self.channel = channel
        self.credentials = channel.credentials or {}

    @classmethod
    def credential_errors(cls, credentials):
        """Per-field errors of `credentials` ({} when valid)."""
        form = cls.credentials_form(data=credentials or {})
        if form.is_valid():
            return {}
        return {name: [str(e) for e in errors] for name, errors in form.errors.items()}

    def send(self, message):
        if message.template:
            if not self.supports_templates:
                raise ChannelError(f"{self.label} channels cannot send WhatsApp templates.")
            return self.send_template(message)
        if message.media_url:
            if not self.supports_media:
                raise ChannelError(f"{self.label} channels cannot send media.")
            return self.send_media(message)
        if not message.body:
            raise ChannelError("The message has no text, media or template.")
        return self.send_text(message)

    def send_text(self, message):
        raise NotImplementedError

    def send_media(self, message):
        raise NotImplementedError

    def send_template(self, message):
        raise ChannelError(f"{self.label} channels cannot send WhatsApp templates.")

    def verify_subscription(self, params):
        """The challenge to echo for a valid webhook handshake (GET), else None."""
        return None

    def check_signature(self, body, headers):
        """Whether a webhook POST really comes from the provider."""
        return True

    def parse_inbound(self, data):
        """The messages a webhook body carries (a list of Incoming)."""
        return []

    def parse_status(self, data):
        """The delivery status changes a webhook body carries (a list of StatusChange)."""
        return []

    def parse_participants(self, data):
        """The group membership changes a webhook body carries (WhatsApp Web channels: a
        list of whatsapp_web.ParticipantsChange)."""
        return []

    @classmethod
    def inbound_media(cls, payload):
        """The InboundMedia a received message's payload carries beyond its `media_url`,
        else None."""
        return None

    def fetch_media(self, media_id, max_bytes):
        """FetchedMedia of a provider's media id, at most `max_bytes` long; raises
        ChannelError when the provider does not give it."""
        raise ChannelError(f"{self.label} channels keep no media to fetch.")

    def list_templates(self):
        """The provider's approved message templates (see WhatsAppCloudAdapter); raises
        ChannelError when it has none to list."""
        raise ChannelError(f"{self.label} channels have no WhatsApp templates.")


SEND_TIMEOUT_SECONDS = 20


def post_json(service, url, body, headers=None):
    """POST `body` to a provider: (response, its JSON or None).

    Raises ChannelError when the provider is not reached; retryable network
    errors are not permanent, so the messaging sweep tries again.
    """
    try:
        response = outbound.send(
            "POST", url, headers=headers, json_body=body, timeout=SEND_TIMEOUT_SECONDS
        )
    except outbound.OutboundError as exc:
        raise ChannelError(
            f"{service} not reached: {exc.message}", permanent=not exc.retryable
        ) from exc
    try:
        answer = response.json()
    except ValueError:
        answer = None
    return response, answer
