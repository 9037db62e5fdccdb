"""A generic Picky-style push endpoint.

Outbound: POST <url> with JSON {"token": "...", "application": "...",
"data": [{"number": "919847012345", "message": "Hello", "media-url": "https://..."}]}
("media-url" only with media). Any 2xx answer is a success unless its JSON
says otherwise ("status" other than 100/200/"success"/"ok"); the message id is
read from data[0].msg_id, data[0].id, msg_id, push_id or id.
Inbound, on the channel's webhook URL, one object or {"data": [objects]}:
a message {"number", "message", "name", "media-url", "msg_id"} or a status
{"msg_id", "status": "sent|delivered|read|failed", "error"}.
"""

from django import forms

from .base import (
    ChannelAdapter,
    ChannelError,
    Incoming,
    Sent,
    StatusChange,
    WebhookError,
    post_json,
)

SUCCESS_STATUSES = {"100", "200", "success", "ok", "true"}
STATUSES = {"sent": "submitted", "submitted": "submitted", "delivered": "delivered",
            "read": "read", "failed": "failed"}  # fmt: skip


class PushApiCredentialsForm(forms.Form):
    url = forms.URLField(
        assume_scheme="https",
        help_text="The push endpoint, e.g. https://push.example.com/api/v2/push",
    )
    token = forms.CharField(help_text="The account's API token.")
    application = forms.CharField(
        initial="1", help_text="Application (number slot) to send from, e.g. 1."
    )


class PushApiAdapter(ChannelAdapter):
    kind = "push_api"
    label = "Push API"
    credentials_form = PushApiCredentialsForm
    secret_credentials = ("token",)

    def send_text(self, message):
        return self.push({"number": message.address, "message": message.body})

    def send_media(self, message):
        return self.push(
            {"number": message.address, "message": message.body, "media-url": message.media_url}
        )

    def push(self, item):
        body = {
            "token": self.credentials.get("token", ""),
            "application": str(self.credentials.get("application", "")),
            "data": [item],
        }
        response, answer = post_json("Push API", self.credentials.get("url", ""), body)
        if not response.ok:
            raise ChannelError(
                f"Push API refused the message (HTTP {response.status}): {response.text[:300]}",
                permanent=response.status < 500 and response.status != 429,
            )
        refused = (
            isinstance(answer, dict)
            and "status" in answer
            and str(answer["status"]).lower() not in SUCCESS_STATUSES
        )
        if refused:
            raise ChannelError(
                f"Push API refused the message: {answer.get('message') or answer['status']}"
            )
        return Sent(provider_id=provider_id_of(answer), response=answer)

    def parse_inbound(self, data):
        incoming = []
        for item in items_of(data):
            if "message" not in item and "media-url" not in item:
                continue
            number = str(item.get("number") or "").strip()
            if not number:
                raise WebhookError('A pushed message needs "number" (the sender).')
            incoming.append(
                Incoming(
                    address=number,
                    body=str(item.get("message") or ""),
                    name=str(item.get("name") or ""),
                    media_url=str(item.get("media-url") or ""),
                    provider_id=str(item.get("msg_id") or ""),
                    payload=item,
                )
            )
        return incoming

    def parse_status(self, data):
        changes = []
        for item in items_of(data):
            if "message" in item or not item.get("msg_id"):
                continue
            status = STATUSES.get(str(item.get("status", "")).lower())
            if status is None:
                raise WebhookError(
                    f"Unknown status {item.get('status')!r}: use sent, delivered, read or failed."
                )
            changes.append(
                StatusChange(
                    provider_id=str(item["msg_id"]),
                    status=status,
                    error=str(item.get("error") or ""),
                )
            )
        return changes


def items_of(data):
    items = data.get("data") if isinstance(data, dict) and "data" in data else [data]
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise WebhookError('Send one JSON object or {"data": [objects]}.')
    return items


def provider_id_of(answer):
    if not isinstance(answer, dict):
        return ""
    data = answer.get("data")
    first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    for value in (first.get("msg_id"), first.get("id"), answer.get("msg_id"),
                  answer.get("push_id"), answer.get("id")):  # fmt: skip
        if value:
            return str(value)
    return ""
