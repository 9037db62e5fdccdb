"""E-mail through Django's mail settings (EMAIL_URL).

Outbound: the message body as plain text, with the media URL (if any) on its
own line and the message's reply-to address. Inbound (replies to
reply+<token>@ addresses, forwarded by an inbound-mail relay as JSON):
{"from": "Asha <asha@example.com>", "to": "reply+...@...", "subject": "...",
"text": "..."}.
"""

import smtplib
from email.utils import make_msgid, parseaddr

from django import forms
from django.conf import settings
from django.core.mail import EmailMessage

from .base import ChannelAdapter, ChannelError, Incoming, Sent, WebhookError


class EmailCredentialsForm(forms.Form):
    from_email = forms.CharField(
        required=False, help_text="Sender, e.g. Shop <hello@shop.example>; default: the server's."
    )
    subject = forms.CharField(required=False, help_text="Subject when a message has none.")


class EmailAdapter(ChannelAdapter):
    kind = "email"
    label = "E-mail"
    address_kind = "email"
    credentials_form = EmailCredentialsForm

    def send_text(self, message):
        return self.mail(message, message.body)

    def send_media(self, message):
        body = "\n\n".join(part for part in (message.body, message.media_url) if part)
        return self.mail(message, body)

    def mail(self, message, body):
        message_id = make_msgid(domain=settings.PICKY_REPLY_DOMAIN)
        mail = EmailMessage(
            subject=message.subject or self.credentials.get("subject") or self.channel.name,
            body=body,
            from_email=self.credentials.get("from_email") or settings.DEFAULT_FROM_EMAIL,
            to=[message.address],
            reply_to=[message.reply_to] if message.reply_to else None,
            headers={"Message-ID": message_id},
        )
        try:
            mail.send()
        except smtplib.SMTPRecipientsRefused as exc:
            raise ChannelError(f"The mail server refused the recipient: {exc}") from exc
        except OSError as exc:
            raise ChannelError(
                f"The mail server refused the message: {exc}", permanent=False
            ) from exc
        return Sent(provider_id=message_id)

    def parse_inbound(self, data):
        _, sender = parseaddr(str(data.get("from") or ""))
        if "@" not in sender:
            raise WebhookError('An inbound e-mail needs "from" with an address.')
        name, _ = parseaddr(str(data.get("from")))
        _, recipient = parseaddr(str(data.get("to") or ""))
        subject = str(data.get("subject") or "")
        text = str(data.get("text") or "")
        return [
            Incoming(
                address=sender.lower(),
                name=name,
                body=f"{subject}\n\n{text}".strip() if subject else text,
                provider_id=str(data.get("message_id") or ""),
                payload=data,
                recipient=recipient.lower(),
            )
        ]
