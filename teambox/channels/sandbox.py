"""The sandbox: messages go nowhere but the database and count as delivered at once.

Its webhook takes {"number": "...", "message": "...", "name": "...",
"media-url": "..."} so a newcomer can play the contact's side.
"""

import uuid

from .base import ChannelAdapter, Incoming, Sent, WebhookError


class SandboxAdapter(ChannelAdapter):
    kind = "sandbox"
    label = "Sandbox"
    supports_templates = True

    def deliver(self):
        return Sent(provider_id=f"sandbox-{uuid.uuid4().hex}", delivered=True)

    def send_text(self, message):
        return self.deliver()

    def send_media(self, message):
        return self.deliver()

    def send_template(self, message):
        return self.deliver()

    def parse_inbound(self, data):
        number = str(data.get("number") or "").strip()
        if not number:
            raise WebhookError('A sandbox message needs "number" (the sender).')
        return [
            Incoming(
                address=number,
                body=str(data.get("message") or ""),
                name=str(data.get("name") or ""),
                media_url=str(data.get("media-url") or ""),
                provider_id=f"sandbox-in-{uuid.uuid4().hex}",
                payload=data,
            )
        ]
