"""Inbound e-mail: a mail sent to a connector's address (`<token>@PICKY_INBOUND_MAIL_DOMAIN`)
becomes an event of that connector through the webhook's path (services.record_event, the
JSON sanitiser), its payload the mail's from, to, subject, text, HTML, headers and the
names and sizes of its attachments.

The SMTP listener (management command receive_mail) stores the event before it answers
250: a mail it accepted is never lost.
"""

import email
import json
from email import policy
from email.parser import HeaderParser
from email.utils import getaddresses

from django.conf import settings

from picky.json_input import check_storable

from .mail_fields import extract_fields
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
        "text": text.get_content().replace("\r\n", "\n") if text is not None else "",
        "html": html.get_content().replace("\r\n", "\n") if html is not None else "",
        "headers": headers,
        "attachments": attachments,
        "envelope": {"from": envelope_from, "to": list(envelope_to)},
    }


def with_fields(rules, payload):
    """The mail payload with `fields`, what the connector's parsing template (`rules`,
    Connector.mail_fields) takes out of it; a connector without one adds nothing."""
    return {**payload, "fields": extract_fields(rules, payload)} if rules else payload


def rules_for_token(token):
    """The parsing template of the connector with this URL token ([] when none)."""
    rules = Connector.objects.filter(token=token).values_list("mail_fields", flat=True).first()
    return rules or []


def receive_mail(connector, payload, source_ip=None):
    """Record the mail `payload`, with its template's fields, as an event of `connector`;
    the event. A payload the JSON sanitiser refuses (JSONInputError) is refused whole."""
    payload = with_fields(connector.mail_fields, payload)
    check_storable(payload)
    return record_event(connector, payload, method="EMAIL", headers={}, source_ip=source_ip)


# Mail providers that POST inbound mail, each told apart by fields only it sends.
def provider_payload(data, files):
    """The mail payload of a provider's inbound POST (`data`: its form or JSON as one
    object; `files`: the request's uploaded files): SendGrid Inbound Parse (multipart; its
    raw mode too), Mailgun routes (form) or Postmark inbound (JSON). InboundMailError (400)
    when it is none of these."""
    if isinstance(data.get("email"), str) and "\n" in data["email"]:
        return mail_payload(data["email"].encode("utf-8", "surrogateescape"))  # SendGrid raw
    if "FromFull" in data or "TextBody" in data or "HtmlBody" in data:
        return postmark_payload(data)
    if "body-plain" in data or "message-headers" in data or "recipient" in data:
        return mailgun_payload(data, files)
    if "envelope" in data or "attachment-info" in data or isinstance(data.get("headers"), str):
        return sendgrid_payload(data, files)
    raise InboundMailError(
        400,
        "This is not an inbound mail this URL reads: send SendGrid Inbound Parse, Mailgun "
        "route or Postmark inbound posts.",
    )


def kept(pairs):
    """The KEPT_HEADERS among (name, value) pairs, by lower-case name."""
    return {
        str(name).lower(): str(value) for name, value in pairs if str(name).lower() in KEPT_HEADERS
    }


def uploaded(files):
    return [
        {"name": upload.name or "", "type": upload.content_type or "", "size": upload.size}
        for name in sorted(files)
        for upload in files.getlist(name)
    ]


def loaded_json(text, default):
    try:
        return json.loads(text) if isinstance(text, str) else default
    except ValueError:
        return default


def sendgrid_payload(data, files):
    headers = HeaderParser(policy=policy.default).parsestr(str(data.get("headers") or ""))
    envelope = loaded_json(data.get("envelope"), {})
    sender = getaddresses([str(data.get("from") or "")])
    return {
        "from": sender[0][1] if sender else "",
        "from_name": sender[0][0] if sender else "",
        "to": addresses([str(data.get("to") or "")]),
        "subject": str(data.get("subject") or ""),
        "text": str(data.get("text") or ""),
        "html": str(data.get("html") or ""),
        "headers": kept(headers.items()),
        "attachments": uploaded(files),
        "envelope": {"from": envelope.get("from", ""), "to": envelope.get("to", [])},
    }


def mailgun_payload(data, files):
    sender = getaddresses([str(data.get("from") or data.get("sender") or "")])
    return {
        "from": sender[0][1] if sender else "",
        "from_name": sender[0][0] if sender else "",
        "to": addresses([str(data.get("To") or data.get("recipient") or "")]),
        "subject": str(data.get("subject") or ""),
        "text": str(data.get("body-plain") or ""),
        "html": str(data.get("body-html") or ""),
        "headers": kept(loaded_json(data.get("message-headers"), [])),
        "attachments": uploaded(files),
        "envelope": {"from": data.get("sender", ""), "to": addresses([data.get("recipient", "")])},
    }


def postmark_payload(data):
    sender = data.get("FromFull") if isinstance(data.get("FromFull"), dict) else {}
    recipients = data.get("ToFull") if isinstance(data.get("ToFull"), list) else []
    headers = [
        (header.get("Name", ""), header.get("Value", ""))
        for header in data.get("Headers") or []
        if isinstance(header, dict)
    ]
    return {
        "from": sender.get("Email") or str(data.get("From") or ""),
        "from_name": sender.get("Name") or str(data.get("FromName") or ""),
        "to": [r.get("Email", "") for r in recipients if isinstance(r, dict)]
        or addresses([str(data.get("To") or "")]),
        "subject": str(data.get("Subject") or ""),
        "text": str(data.get("TextBody") or ""),
        "html": str(data.get("HtmlBody") or ""),
        "headers": kept(headers),
        "attachments": [
            {
                "name": item.get("Name", ""),
                "type": item.get("ContentType", ""),
                "size": item.get("ContentLength", 0),
            }
            for item in data.get("Attachments") or []
            if isinstance(item, dict)
        ],
        "envelope": {"from": "", "to": []},
    }
