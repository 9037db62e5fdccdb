"""Inbound mail POSTed by providers to /hooks/<token>/mail: SendGrid Inbound Parse
(multipart, and its raw mode), Mailgun routes (form) and Postmark inbound (JSON) become the
same payload, stored as an event of the connector the token names."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from connectors import engine
from connectors.models import Event, Run
from tests.builders import build_connector

HEADERS = "Message-ID: <a1047@shop.example>\nDate: Mon, 7 Dec 2026 10:00:00 +0000\n"


@pytest.fixture
def connector(project):
    return build_connector(
        project,
        steps=[{"actions": [("set_variable", {"name": "seen", "value": "{{ event.subject }}"})]}],
    )


def url(connector):
    return f"/hooks/{connector.token}/mail"


def stored(connector, response):
    assert response.status_code == 200, response.content
    event = Event.objects.get(pk=response.json()["event"], connector=connector)
    assert event.method == "EMAIL"
    return event.payload


EXPECTED = {
    "from": "orders@shop.example",
    "from_name": "Shop",
    "subject": "New order #A-1047",
    "text": "Order #A-1047",
    "html": "<p>Order #A-1047</p>",
    "headers": {"message-id": "<a1047@shop.example>"},
    "attachments": [{"name": "invoice.pdf", "type": "application/pdf", "size": 16}],
}


def invoice():
    return SimpleUploadedFile("invoice.pdf", b"%PDF-1.4 invoice", "application/pdf")


@pytest.mark.django_db
def test_sendgrid_inbound_parse(client, connector):
    response = client.post(url(connector), {
        "from": "Shop <orders@shop.example>", "to": "leads@in.picky.test",
        "subject": "New order #A-1047", "text": "Order #A-1047", "html": "<p>Order #A-1047</p>",
        "headers": HEADERS, "envelope": json.dumps({"from": "orders@shop.example",
                                                    "to": ["leads@in.picky.test"]}),
        "attachments": "1", "attachment-info": json.dumps({"attachment1": {}}),
        "attachment1": invoice(),
    })  # fmt: skip
    payload = stored(connector, response)
    assert {key: payload[key] for key in EXPECTED} == {
        **EXPECTED,
        "headers": {
            "message-id": "<a1047@shop.example>",
            "date": "Mon, 07 Dec 2026 10:00:00 +0000",
        },
    }
    assert payload["to"] == ["leads@in.picky.test"]
    engine.process_event(Event.objects.get(connector=connector).pk)
    assert Run.objects.get().context["vars"] == {"seen": "New order #A-1047"}


@pytest.mark.django_db
def test_sendgrid_raw_mode(client, connector):
    raw = (
        "From: Shop <orders@shop.example>\r\nTo: leads@in.picky.test\r\n"
        "Subject: New order #A-1047\r\nMessage-ID: <a1047@shop.example>\r\n\r\nOrder #A-1047\r\n"
    )
    payload = stored(connector, client.post(url(connector), {"email": raw, "to": "x"}))
    assert payload["subject"] == "New order #A-1047" and payload["text"] == "Order #A-1047\n"
    assert payload["from"] == "orders@shop.example"


@pytest.mark.django_db
def test_mailgun_route(client, connector):
    response = client.post(url(connector), {
        "sender": "orders@shop.example", "from": "Shop <orders@shop.example>",
        "recipient": "leads@in.picky.test", "subject": "New order #A-1047",
        "body-plain": "Order #A-1047", "body-html": "<p>Order #A-1047</p>",
        "message-headers": json.dumps([["Message-Id", "<a1047@shop.example>"],
                                       ["X-Mailgun-Spam", "No"]]),
        "attachment-count": "1", "attachment-1": invoice(),
    })  # fmt: skip
    payload = stored(connector, response)
    assert {key: payload[key] for key in EXPECTED} == EXPECTED
    assert payload["to"] == ["leads@in.picky.test"]


@pytest.mark.django_db
def test_postmark_inbound(client, connector):
    body = {
        "From": "orders@shop.example", "FromName": "Shop",
        "FromFull": {"Email": "orders@shop.example", "Name": "Shop"},
        "To": "leads@in.picky.test", "ToFull": [{"Email": "leads@in.picky.test", "Name": ""}],
        "Subject": "New order #A-1047", "MessageID": "a8c1040e",
        "TextBody": "Order #A-1047", "HtmlBody": "<p>Order #A-1047</p>",
        "Headers": [{"Name": "Message-ID", "Value": "<a1047@shop.example>"}],
        "Attachments": [{"Name": "invoice.pdf", "Content": "JVBERi0xLjQgaW52b2ljZQ==",
                         "ContentType": "application/pdf", "ContentLength": 16}],
    }  # fmt: skip
    response = client.post(url(connector), json.dumps(body), content_type="application/json")
    payload = stored(connector, response)
    assert {key: payload[key] for key in EXPECTED} == EXPECTED
    assert payload["to"] == ["leads@in.picky.test"]


@pytest.mark.django_db
def test_what_is_not_a_mail_or_not_a_connector_is_refused(client, connector):
    response = client.post(url(connector), {"name": "Asha"})
    assert response.status_code == 400
    assert response.json()["error"] == "not_a_mail"
    assert "SendGrid Inbound Parse, Mailgun route or Postmark" in response.json()["message"]
    assert Event.objects.get(connector=connector).status == Event.Status.REJECTED
    assert client.post("/hooks/no-such-token/mail", {"subject": "x"}).status_code == 404
    assert client.get(url(connector)).status_code == 405


@pytest.mark.django_db
def test_the_connector_page_shows_its_inbound_address_and_url(client, member, connector, settings):
    settings.PICKY_INBOUND_MAIL_DOMAIN = "in.picky.test"
    client.force_login(member)
    page = client.get(f"/admin/connectors/connector/{connector.pk}/change/").content.decode()
    assert f"<code>{connector.token}@in.picky.test</code>" in page
    assert f"{connector.url}/mail</code>" in page
