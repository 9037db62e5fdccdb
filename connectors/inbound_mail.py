"""Inbound e-mail: a mail sent to a connector's address (`<token>@PICKY_INBOUND_MAIL_DOMAIN`)
becomes an event of that connector through the webhook's path (services.record_event, the
JSON sanitiser), its payload the mail's from, to, subject, text, HTML, headers and the
names and sizes of its attachments.

The SMTP listener (management command receive_mail) stores the event before it answers
250: a mail it accepted is never lost.
"""

import email
from email import policy
from email.utils import getaddresses

from django.conf import settings

from picky.json_input import check_storable

from .models import Connector
from .services import record_event

# Headers a payload keeps (lower-cased): what a connector filters or answers on.
KEPT_HEADERS = (
    "message-id",
    "date",
    "reply-to",
    "cc",
    "in-reply-to",
    "references",
    "list-id",
    "auto-submitted",
    "x-mailer",
)


class InboundMailError(Exception):
    """A mail that is refused: `smtp_code` and the message to answer with."""

    def __init__(self, smtp_code, message):
        super().__init__(message)
        self.smtp_code = smtp_code
        self.message = message


def mail_address(connector):
    """The connector's inbound address, or "" when no inbound domain is set."""
    domain = settings.PICKY_INBOUND_MAIL_DOMAIN
    return f"{connector.token}@{domain}" if domain else ""


def connector_for_address(address):
    """The enabled connector an address delivers to, or InboundMailError (550)."""
    local, _, domain = address.strip().strip("<>").rpartition("@")
    inbound_domain = settings.PICKY_INBOUND_MAIL_DOMAIN
    if not local or not inbound_domain or domain.lower() != inbound_domain.lower():
        raise InboundMailError(550, f"5.1.1 <{address}>: no such mailbox here")
    # The token is case-sensitive: the exact local part, as senders keep it.
    connector = Connector.objects.select_related("project").filter(token=local).first()
    if connector is None:
        raise InboundMailError(550, f"5.1.1 <{address}>: no such mailbox here")
    if not connector.enabled:
        raise InboundMailError(550, f"5.2.1 <{address}>: this mailbox is disabled")
    return connector


def addresses(values):
    return [address for _, address in getaddresses(values) if address]


def mail_payload(raw, envelope_from="", envelope_to=()):
    """The payload of the mail `raw` (bytes): from, to, subject, text, html, headers kept,
    attachments (name, type, size)."""
    message = email.message_from_bytes(raw, policy=policy.default)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    attachments = [
        {
            "name": part.get_filename() or "",
            "type": part.get_content_type(),
            "size": len(part.get_payload(decode=True) or b""),
        }
        for part in message.iter_attachments()
    ]
    sender = addresses(message.get_all("from", []))
    headers = {name: str(message[name]) for name in KEPT_HEADERS if message[name] is not None}
    return {
        "from": sender[0] if sender else envelope_from,
        "from_name": getaddresses(message.get_all("from", []))[0][0] if sender else "",
        "to": addresses(message.get_all("to", [])) or list(envelope_to),
        "subject": str(message["subject"] or ""),
        "text": text.get_content() if text is not None else "",
        "html": html.get_content() if html is not None else "",
        "headers": headers,
        "attachments": attachments,
        "envelope": {"from": envelope_from, "to": list(envelope_to)},
    }


def receive_mail(connector, payload, source_ip=None):
    """Record the mail `payload` as an event of `connector`; the event. A payload the JSON
    sanitiser refuses (JSONInputError) is refused whole."""
    check_storable(payload)
    return record_event(connector, payload, method="EMAIL", headers={}, source_ip=source_ip)
