"""Inbound e-mail: a real SMTP client (smtplib) delivers to the listener (aiosmtpd, started
on a free port) and the mail becomes an event of the connector its address names, stored
before the 250 answer, then run; unknown addresses get 550 and a mail over the limit 552."""

import smtplib
import socket
from email import policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from connectors import engine
from connectors.inbound_mail import mail_address
from connectors.mail_listener import MailHandler
from connectors.models import Event, Run
from tests.builders import build_connector

DOMAIN = "in.picky.test"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def listener(transactional_db, settings):
    settings.PICKY_INBOUND_MAIL_DOMAIN = DOMAIN
    settings.PICKY_INBOUND_MAIL_MAX_BYTES = 200_000
    controller = Controller(
        MailHandler(), hostname="127.0.0.1", port=free_port(), data_size_limit=200_000
    )
    controller.start()
    yield controller
    controller.stop()


def order_mail(to, body="Order #A-1047 for Asha, total 1,250.00"):
    message = EmailMessage()
    message["From"] = "Shop <orders@shop.example>"
    message["To"] = to
    message["Subject"] = "New order #A-1047"
    message["Message-ID"] = "<a1047@shop.example>"
    message.set_content(body)
    message.add_alternative(f"<p>{body}</p>", subtype="html")
    message.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf",
                           filename="invoice.pdf")  # fmt: skip
    return message


def test_a_mail_becomes_an_event_and_the_connector_runs(listener, project):
    connector = build_connector(
        project,
        steps=[{"actions": [("set_variable", {"name": "seen", "value": "{{ event.subject }} "
                                              "from {{ event.from }}"})]}],
    )  # fmt: skip
    address = mail_address(connector)
    assert address == f"{connector.token}@{DOMAIN}"
    with smtplib.SMTP(listener.hostname, listener.port) as client:
        refused = client.send_message(order_mail(address))
    assert refused == {}
    event = Event.objects.get(connector=connector)  # stored before the 250 answer
    payload = event.payload
    assert event.method == "EMAIL"
    assert payload["from"] == "orders@shop.example" and payload["from_name"] == "Shop"
    assert payload["to"] == [address]
    assert payload["subject"] == "New order #A-1047"
    assert payload["text"].strip() == "Order #A-1047 for Asha, total 1,250.00"
    assert payload["html"].strip() == "<p>Order #A-1047 for Asha, total 1,250.00</p>"
    assert payload["headers"]["message-id"] == "<a1047@shop.example>"
    assert payload["attachments"] == [
        {"name": "invoice.pdf", "type": "application/pdf", "size": 16}
    ]
    engine.process_event(event.pk)
    run = Run.objects.get(event=event)
    assert run.context["vars"] == {"seen": "New order #A-1047 from orders@shop.example"}


def test_unknown_and_disabled_addresses_are_refused_550(listener, project):
    disabled = build_connector(project, name="Off", enabled=False)
    with smtplib.SMTP(listener.hostname, listener.port) as client:
        client.ehlo()
        client.mail("orders@shop.example")
        code, message = client.rcpt(f"no-such-token@{DOMAIN}")
        assert code == 550 and b"no such mailbox" in message
        code, message = client.rcpt(f"{disabled.token}@elsewhere.example")
        assert code == 550
        code, message = client.rcpt(mail_address(disabled))
        assert code == 550 and b"disabled" in message
    assert not Event.objects.exists()


def test_a_mail_over_the_limit_is_refused_552(listener, project):
    connector = build_connector(project)
    big = order_mail(mail_address(connector), body=("x" * 70 + "\n") * 4_000)
    with smtplib.SMTP(listener.hostname, listener.port) as client:
        # smtplib declares the size (the listener offers SIZE): refused before the data.
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.send_message(big)
        assert refused.value.smtp_code == 552
        # A client that declares no size is refused at the end of its data.
        client.rset()
        client.mail("orders@shop.example")
        assert client.rcpt(mail_address(connector))[0] == 250
        code, message = client.data(big.as_bytes(policy=policy.SMTP))
    assert (code, message) == (552, b"Error: Too much mail data")
    assert not Event.objects.exists()
