"""The WhatsApp Cloud API (Meta's official API).

Outbound: POST {base_url}/{phone_number_id}/messages with
`Authorization: Bearer <access_token>` and a JSON body of type text, a media
type by link (image, video, audio, document) or template (language, body
parameters, and a header media when the message has a media URL). The answer
names the message: {"messages": [{"id": "wamid..."}]}.
Inbound: Meta verifies the webhook with GET ?hub.mode=subscribe&hub.verify_token=
...&hub.challenge=... and then POSTs {"object": "whatsapp_business_account",
"entry": [{"changes": [{"value": {"contacts": [...], "messages": [...],
"statuses": [...]}}]}]}, signed with X-Hub-Signature-256 (HMAC-SHA256 of the
body with the app secret) when the channel has an app secret.
Received media come as a media id: GET {base_url}/{media-id} with the token answers
{"url", "mime_type", "file_size"}, and GET url with the token answers the file.
Templates: GET {base_url}/{business-account-id}/message_templates answers {"data": [{"name",
"language", "status", "category", "parameter_format", "components": [{"type": "BODY",
"text": "Hi {{1}}" or "Hi {{first_name}}"}, ...]}], "paging": {"cursors": {"after"},
"next"}}, a page at a time.
"""

import hashlib
import hmac
import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django import forms
from django.conf import settings

from picky import outbound

from .base import (
    SEND_TIMEOUT_SECONDS,
    ChannelAdapter,
    ChannelError,
    FetchedMedia,
    InboundMedia,
    Incoming,
    OrderItem,
    Sent,
    StatusChange,
    WebhookError,
    post_json,
)

MEDIA_TYPES = {
    "image": {"jpg", "jpeg", "png", "webp"},
    "video": {"mp4", "3gp"},
    "audio": {"mp3", "ogg", "opus", "aac", "amr", "m4a"},
}
RECEIVED_MEDIA = ("image", "video", "audio", "document", "sticker")
# Meta's media ids are digits; anything else is not put into a Graph API path.
MEDIA_ID = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
# The Graph API's description of a media file is a small JSON object.
MEDIA_INFO_MAX_BYTES = 64 * 1024
STATUSES = {"sent": "submitted", "delivered": "delivered", "read": "read", "failed": "failed"}
# Template pages read at most (100 templates each): a business account has a few hundred.
TEMPLATE_PAGES = 10
TEMPLATE_FIELDS = "name,language,status,category,parameter_format,components"
# A body's value holes: {{1}} (positional) or {{first_name}} (named).
TEMPLATE_HOLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


class WhatsAppCloudCredentialsForm(forms.Form):
    phone_number_id = forms.RegexField(
        regex=r"^\d+$", help_text="The number's id in Meta's WhatsApp Manager (digits)."
    )
    access_token = forms.CharField(help_text="A permanent system-user access token.")
    verify_token = forms.CharField(
        min_length=8, help_text="Any secret you also enter as Meta's webhook verify token."
    )
    app_secret = forms.CharField(
        required=False, help_text="The Meta app secret; when set, webhooks must be signed."
    )
    business_account_id = forms.RegexField(
        regex=r"^\d+$",
        required=False,
        help_text="The WhatsApp Business Account id (digits): the action forms then offer "
        "its approved templates.",
    )
    base_url = forms.URLField(
        assume_scheme="https",
        required=False,
        help_text="Graph API base URL; default: PICKY_WHATSAPP_CLOUD_BASE_URL.",
    )


def media_type_of(url):
    extension = urlsplit(url).path.rsplit(".", 1)[-1].lower()
    for media_type, extensions in MEDIA_TYPES.items():
        if extension in extensions:
            return media_type
    return "document"


def media_object(url, caption=""):
    """The (type, object) of a media message by link."""
    media_type = media_type_of(url)
    media = {"link": url}
    if caption and media_type != "audio":
        media["caption"] = caption
    if media_type == "document":
        media["filename"] = urlsplit(url).path.rsplit("/", 1)[-1] or "document"
    return media_type, media


class WhatsAppCloudAdapter(ChannelAdapter):
    kind = "whatsapp_cloud"
    label = "WhatsApp Cloud API"
    supports_templates = True
    credentials_form = WhatsAppCloudCredentialsForm
    secret_credentials = ("access_token", "verify_token", "app_secret")

    @property
    def base_url(self):
        base = self.credentials.get("base_url") or settings.PICKY_WHATSAPP_CLOUD_BASE_URL
        return base.rstrip("/")

    @property
    def messages_url(self):
        return f"{self.base_url}/{self.credentials.get('phone_number_id', '')}/messages"

    @property
    def auth_headers(self):
        return {"Authorization": f"Bearer {self.credentials.get('access_token', '')}"}

    def send_text(self, message):
        return self.post(
            message, {"type": "text", "text": {"preview_url": False, "body": message.body}}
        )

    def send_media(self, message):
        media_type, media = media_object(message.media_url, message.body)
        return self.post(message, {"type": media_type, media_type: media})

    def send_template(self, message):
        components = []
        if message.media_url:
            media_type, media = media_object(message.media_url)
            components.append(
                {"type": "header", "parameters": [{"type": media_type, media_type: media}]}
            )
        if message.template_params:
            components.append(
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": str(value)} for value in message.template_params
                    ],
                }
            )
        template = {"name": message.template, "language": {"code": message.template_language}}
        if components:
            template["components"] = components
        return self.post(message, {"type": "template", "template": template})

    def post(self, message, content):
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.address,
            **content,
        }
        response, answer = post_json(
            "WhatsApp Cloud API", self.messages_url, body, self.auth_headers
        )
        if not response.ok:
            raise ChannelError(
                f"WhatsApp Cloud API refused the message (HTTP {response.status}): "
                f"{error_text(answer, response.text)}",
                permanent=response.status < 500 and response.status != 429,
            )
        try:
            provider_id = answer["messages"][0]["id"]
        except (KeyError, IndexError, TypeError):
            raise ChannelError(
                f"WhatsApp Cloud API answered without a message id: {response.text[:300]}"
            ) from None
        return Sent(provider_id=provider_id, response=answer)

    def verify_subscription(self, params):
        if params.get("hub.mode") != "subscribe":
            return None
        expected = self.credentials.get("verify_token") or ""
        given = params.get("hub.verify_token") or ""
        if expected and hmac.compare_digest(expected, given):
            return params.get("hub.challenge", "")
        return None

    def check_signature(self, body, headers):
        secret = self.credentials.get("app_secret")
        if not secret:
            return True
        given = headers.get("X-Hub-Signature-256", "")
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, given)

    def parse_inbound(self, data):
        incoming = []
        for value in change_values(data):
            names = {
                c.get("wa_id"): (c.get("profile") or {}).get("name", "")
                for c in value.get("contacts") or []
            }
            for item in value.get("messages") or []:
                sender = str(item.get("from") or "")
                if not sender:
                    raise WebhookError('A WhatsApp message without "from".')
                incoming.append(
                    Incoming(
                        address=sender,
                        name=names.get(sender, ""),
                        body=message_text(item),
                        provider_id=str(item.get("id") or ""),
                        received_at=from_timestamp(item.get("timestamp")),
                        payload=item,
                    )
                )
        return incoming

    @classmethod
    def inbound_media(cls, payload):
        item = payload if isinstance(payload, dict) else {}
        kind = item.get("type", "")
        content = item.get(kind) if isinstance(item.get(kind), dict) else {}
        if kind in RECEIVED_MEDIA and content.get("id"):
            return InboundMedia(
                kind="voice" if kind == "audio" and content.get("voice") else kind,
                media_id=str(content["id"]),
                mime_type=str(content.get("mime_type") or ""),
                filename=str(content.get("filename") or ""),
                caption=str(content.get("caption") or ""),
            )
        if kind == "order":
            products = content.get("product_items")
            return InboundMedia(
                kind="order",
                caption=str(content.get("text") or ""),
                items=[
                    OrderItem(
                        product=str(product.get("product_retailer_id") or ""),
                        quantity=str(product.get("quantity") or ""),
                        price=str(product.get("item_price") or ""),
                        currency=str(product.get("currency") or ""),
                    )
                    for product in (products if isinstance(products, list) else [])
                    if isinstance(product, dict)
                ],
            )
        title = button_title(kind, content)
        if title:
            return InboundMedia(kind="button", title=title)
        return None

    def fetch_media(self, media_id, max_bytes):
        if not MEDIA_ID.match(media_id):
            raise ChannelError(f"{media_id!r} is not a WhatsApp media id.")
        info = self.get("the media's address", f"{self.base_url}/{media_id}",
                        params={"phone_number_id": self.credentials.get("phone_number_id", "")},
                        max_bytes=MEDIA_INFO_MAX_BYTES)  # fmt: skip
        try:
            answer = info.json()
            url = str(answer["url"])
        except (ValueError, KeyError, TypeError):
            raise ChannelError(
                f"WhatsApp Cloud API answered without the media's address: {info.text[:300]}"
            ) from None
        size = str(answer.get("file_size") or "")
        if size.isdigit() and int(size) > max_bytes:
            raise ChannelError(too_large(int(size), max_bytes))
        media = self.get("the media", url, max_bytes=max_bytes)
        return FetchedMedia(
            content=media.content,
            content_type=media.content_type or str(answer.get("mime_type") or ""),
        )

    def list_templates(self):
        """The business account's approved templates: [{"name", "language", "category",
        "parameters": the body's value holes in order ("1", "2" or names)}]."""
        account = str(self.credentials.get("business_account_id") or "")
        if not account.isdigit():
            raise ChannelError(
                f"The channel {self.channel.name!r} has no WhatsApp Business Account id: add "
                "it to the channel's settings to list its templates."
            )
        templates, params = [], {"fields": TEMPLATE_FIELDS, "limit": 100}
        for _ in range(TEMPLATE_PAGES):
            response = self.get("the templates", f"{self.base_url}/{account}/message_templates",
                                params=params)  # fmt: skip
            try:
                answer = response.json()
                page = answer["data"]
            except (ValueError, KeyError, TypeError):
                raise ChannelError(
                    f"WhatsApp Cloud API answered without templates: {response.text[:300]}"
                ) from None
            templates.extend(approved_template(item) for item in page if isinstance(item, dict))
            paging = answer.get("paging") if isinstance(answer.get("paging"), dict) else {}
            after = (paging.get("cursors") or {}).get("after")
            # The next page by its cursor on our base URL, not by the answer's own address.
            if not paging.get("next") or not after:
                break
            params = {**params, "after": after}
        return [template for template in templates if template is not None]

    def get(self, what, url, params=None, max_bytes=None):
        """GET `url` with the channel's token; ChannelError unless it answers 2xx."""
        try:
            response = outbound.send(
                "GET", url, headers=self.auth_headers, params=params,
                timeout=SEND_TIMEOUT_SECONDS, max_bytes=max_bytes,
            )  # fmt: skip
        except outbound.ResponseTooLarge as exc:
            raise ChannelError(too_large(None, max_bytes)) from exc
        except outbound.OutboundError as exc:
            raise ChannelError(
                f"WhatsApp Cloud API not reached for {what}: {exc.message}",
                permanent=not exc.retryable,
            ) from exc
        if not response.ok:
            try:
                answer = response.json()
            except ValueError:
                answer = None
            raise ChannelError(
                f"WhatsApp Cloud API refused {what} (HTTP {response.status}): "
                f"{error_text(answer, response.text)}",
                permanent=response.status < 500 and response.status != 429,
            )
        return response

    def parse_status(self, data):
        changes = []
        for value in change_values(data):
            for item in value.get("statuses") or []:
                status = STATUSES.get(item.get("status"))
                if status is None or not item.get("id"):
                    continue
                errors = item.get("errors") or []
                changes.append(
                    StatusChange(
                        provider_id=str(item["id"]),
                        status=status,
                        error="; ".join(
                            f"{e.get('code', '')} {e.get('title') or e.get('message', '')}".strip()
                            for e in errors
                        ),
                        at=from_timestamp(item.get("timestamp")),
                    )
                )
        return changes


def approved_template(item):
    """A template of the Graph API's list as Picky offers it, or None unless approved."""
    if item.get("status") != "APPROVED" or not item.get("name"):
        return None
    body = next(
        (
            part
            for part in item.get("components") or []
            if isinstance(part, dict) and part.get("type") == "BODY"
        ),
        {},
    )
    holes = []
    for hole in TEMPLATE_HOLE.findall(str(body.get("text") or "")):
        if hole not in holes:
            holes.append(hole)
    return {
        "name": str(item["name"]),
        "language": str(item.get("language") or ""),
        "category": str(item.get("category") or ""),
        "text": str(body.get("text") or ""),
        "parameters": holes,
    }


def change_values(data):
    if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
        raise WebhookError('A WhatsApp webhook body is an object with an "entry" list.')
    for entry in data["entry"]:
        for change in (entry or {}).get("changes") or []:
            value = (change or {}).get("value")
            if isinstance(value, dict):
                yield value


def message_text(item):
    kind = item.get("type", "")
    content = item.get(kind) if isinstance(item.get(kind), dict) else {}
    if kind == "text":
        return content.get("body", "")
    if kind in ("image", "video", "audio", "document", "sticker"):
        caption = content.get("caption", "")
        return f"[{kind}] {caption}".strip()
    if kind in ("button", "interactive"):
        return button_title(kind, content)
    if kind == "order":
        products = content.get("product_items")
        count = len(products) if isinstance(products, list) else 0
        products = f"{count} product{'' if count == 1 else 's'}"
        return f"[order] {products} {content.get('text') or ''}".strip()
    if kind == "location":
        return f"[location] {content.get('latitude')},{content.get('longitude')}"
    return f"[{kind or 'message'}]"


def button_title(kind, content):
    """The title of the button a contact pressed: a template's quick reply ("button") or an
    interactive message's reply button or list row; "" for anything else."""
    if kind == "button":
        return str(content.get("text") or "")
    if kind == "interactive":
        reply = content.get("button_reply") or content.get("list_reply")
        return str(reply.get("title") or "") if isinstance(reply, dict) else ""
    return ""


def too_large(size, max_bytes):
    """Why a file is refused; `size` in bytes when the provider said it, else None."""
    shown = f" ({size / 1048576:.1f} MB)" if size else ""
    return (
        f"The file{shown} is larger than the {max_bytes / 1048576:.1f} MB Picky shows "
        "(PICKY_TEAMBOX_MEDIA_MAX_BYTES). Open it in WhatsApp instead."
    )


def from_timestamp(value):
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def error_text(answer, text):
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        error = answer["error"]
        details = (error.get("error_data") or {}).get("details", "")
        parts = [error.get("message", ""), f"(code {error['code']})" if "code" in error else ""]
        return " ".join(p for p in [*parts, details] if p)
    return text[:300]
