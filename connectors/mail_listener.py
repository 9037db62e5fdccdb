"""The SMTP listener's handler (aiosmtpd): an unknown address is refused at RCPT with 550,
a mail over PICKY_INBOUND_MAIL_MAX_BYTES with 552 (aiosmtpd's data_size_limit), and a
mail is answered 250 only once its events are committed."""

from asgiref.sync import sync_to_async
from django.db import close_old_connections, transaction

from picky.json_input import JSONInputError

from .inbound_mail import InboundMailError, connector_for_address, mail_payload, receive_mail


def rcpt_answer(address):
    """None when `address` is a connector's, else the SMTP answer refusing it."""
    close_old_connections()
    try:
        connector_for_address(address)
    except InboundMailError as exc:
        return f"{exc.smtp_code} {exc.message}"
    return None


def deliver(raw, envelope_from, recipients, peer_ip):
    """Store the mail as an event of each recipient's connector, all or none; the answer."""
    close_old_connections()
    try:
        connectors = [connector_for_address(address) for address in recipients]
        payload = mail_payload(raw, envelope_from, recipients)
        with transaction.atomic():
            for connector in connectors:
                receive_mail(connector, payload, source_ip=peer_ip)
    except InboundMailError as exc:
        return f"{exc.smtp_code} {exc.message}"
    except JSONInputError as exc:
        return f"554 5.6.0 This mail cannot be stored: {exc}"
    return "250 OK: stored"


class MailHandler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refused = await sync_to_async(rcpt_answer, thread_sensitive=False)(address)
        if refused:
            return refused
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        peer = session.peer[0] if isinstance(session.peer, tuple) else None
        return await sync_to_async(deliver, thread_sensitive=False)(
            envelope.original_content or envelope.content,
            envelope.mail_from or "",
            list(envelope.rcpt_tos),
            peer,
        )
