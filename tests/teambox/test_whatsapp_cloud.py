"""The WhatsApp Cloud API adapter against a real local HTTP server."""

import hashlib
import hmac
import json

import pytest

from teambox import services
from teambox.channels import ChannelError, adapter_for
from teambox.models import Message

WAMID = "wamid.HBgMOTE5ODQ3MDEyMzQ1FQIAERgSQzVGRjM1"


def queued(channel, contact, **fields):
    return Message.objects.create(
        project_id=channel.project_id,
        channel=channel,
        contact=contact,
        direction=Message.Direction.OUT,
        address=contact.number,
        **fields,
    )


def expect_send(httpserver, body, answer=None, status=200):
    httpserver.expect_oneshot_request(
        "/v21.0/106540352242922/messages",
        method="POST",
        json=body,
        headers={"Authorization": "Bearer EAAG-test-token", "Content-Type": "application/json"},
    ).respond_with_json(
        answer
        if answer is not None
        else {"messaging_product": "whatsapp", "messages": [{"id": WAMID}]},
        status=status,
    )


def test_text_message_wire_format(cloud, asha, httpserver):
    expect_send(
        httpserver,
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "919847012345",
            "type": "text",
            "text": {"preview_url": False, "body": "Hello Asha"},
        },
    )
    message = queued(cloud, asha, body="Hello Asha")
    sent = services.deliver_message(message.pk)
    httpserver.check_assertions()
    assert sent.status == Message.Status.SUBMITTED
    assert sent.provider_id == WAMID
    message.refresh_from_db()
    assert (message.status, message.provider_id, message.attempts) == ("submitted", WAMID, 1)
    assert message.submitted_at is not None and message.sending_since is None


@pytest.mark.parametrize(
    "url, media",
    [
        (
            "https://cdn.example.com/p/lamp.JPG",
            {
                "type": "image",
                "image": {"link": "https://cdn.example.com/p/lamp.JPG", "caption": "Our lamp"},
            },
        ),
        (
            "https://cdn.example.com/v/demo.mp4",
            {
                "type": "video",
                "video": {"link": "https://cdn.example.com/v/demo.mp4", "caption": "Our lamp"},
            },
        ),
        (
            "https://cdn.example.com/a/hi.ogg",
            {"type": "audio", "audio": {"link": "https://cdn.example.com/a/hi.ogg"}},
        ),
        (
            "https://cdn.example.com/d/invoice.pdf",
            {
                "type": "document",
                "document": {
                    "link": "https://cdn.example.com/d/invoice.pdf",
                    "caption": "Our lamp",
                    "filename": "invoice.pdf",
                },
            },
        ),
    ],
)
def test_media_by_link(cloud, asha, httpserver, url, media):
    expect_send(
        httpserver,
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "919847012345",
            **media,
        },
    )
    services.deliver_message(queued(cloud, asha, body="Our lamp", media_url=url).pk)
    httpserver.check_assertions()


def test_template_with_parameters_and_header_image(cloud, asha, httpserver):
    expect_send(
        httpserver,
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "919847012345",
            "type": "template",
            "template": {
                "name": "order_shipped",
                "language": {"code": "en_US"},
                "components": [
                    {
                        "type": "header",
                        "parameters": [
                            {"type": "image", "image": {"link": "https://cdn.example.com/b.png"}}
                        ],
                    },
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "Asha"},
                            {"type": "text", "text": "A-1001"},
                        ],
                    },
                ],
            },
        },
    )
    message = queued(
        cloud,
        asha,
        template="order_shipped",
        template_language="en_US",
        template_params=["Asha", "A-1001"],
        media_url="https://cdn.example.com/b.png",
    )
    assert services.deliver_message(message.pk).status == Message.Status.SUBMITTED
    httpserver.check_assertions()


def test_a_refusal_fails_the_message_with_the_api_error(cloud, asha, httpserver):
    httpserver.expect_oneshot_request("/v21.0/106540352242922/messages").respond_with_json(
        {
            "error": {
                "message": "(#131030) Recipient phone number not in allowed list",
                "type": "OAuthException",
                "code": 131030,
            }
        },
        status=400,
    )
    message = services.deliver_message(queued(cloud, asha, body="Hi").pk)
    assert message.status == Message.Status.FAILED
    assert message.error == (
        "WhatsApp Cloud API refused the message (HTTP 400): "
        "(#131030) Recipient phone number not in allowed list (code 131030)"
    )


def test_a_server_error_is_retried_later(cloud, asha, httpserver):
    httpserver.expect_oneshot_request("/v21.0/106540352242922/messages").respond_with_data(
        "upstream down", status=503
    )
    message = services.deliver_message(queued(cloud, asha, body="Hi").pk)
    assert message.status == Message.Status.QUEUED
    assert "HTTP 503" in message.error
    assert message.next_attempt_at is not None


def test_adapter_refuses_private_addresses_without_the_allowlist(cloud, asha, settings):
    settings.PICKY_OUTBOUND_ALLOWLIST = []
    with pytest.raises(ChannelError) as refused:
        adapter_for(cloud).send(queued(cloud, asha, body="Hi"))
    assert refused.value.permanent
    assert "not reached" in refused.value.message


def signed(body, secret="app-secret"):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(client, channel, payload, signature=None):
    body = json.dumps(payload).encode()
    return client.post(
        channel.webhook_path,
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature or signed(body)},
    )


def test_verify_token_handshake(client, cloud):
    ok = client.get(
        cloud.webhook_path,
        {"hub.mode": "subscribe", "hub.verify_token": "verify-me-please", "hub.challenge": "1158"},
    )
    assert ok.status_code == 200 and ok.content == b"1158"
    wrong = client.get(
        cloud.webhook_path,
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158"},
    )
    assert wrong.status_code == 403
    assert "verify token" in wrong.json()["message"]


def inbound_payload(text="Is the lamp in stock?", wamid="wamid.in.1"):
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": "106540352242922",
                            },
                            "contacts": [{"profile": {"name": "Ravi"}, "wa_id": "919800000077"}],
                            "messages": [
                                {
                                    "from": "919800000077",
                                    "id": wamid,
                                    "timestamp": "1767225600",
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def test_inbound_message_creates_the_contact_and_is_stored_once(
    client, cloud, django_capture_on_commit_callbacks
):
    from crm.models import Contact
    from teambox.signals import messages_received

    received = []

    def on_messages(sender, messages, channel, **kwargs):
        received.extend((message.body, message.contact.number, channel.pk) for message in messages)

    messages_received.connect(on_messages)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook(client, cloud, inbound_payload())
            again = post_webhook(client, cloud, inbound_payload())
    finally:
        messages_received.disconnect(on_messages)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "messages": 1, "statuses": 0}
    assert again.status_code == 200
    contact = Contact.objects.get(number="919800000077")
    assert contact.name == "Ravi"
    assert contact.last_interaction_at.timestamp() == 1767225600
    message = Message.objects.get(direction=Message.Direction.IN)
    assert (message.body, message.status, message.contact_id) == (
        "Is the lamp in stock?",
        "received",
        contact.pk,
    )
    # The provider's retry of the same message is stored once and signalled once.
    assert received == [("Is the lamp in stock?", "919800000077", cloud.pk)]


def test_a_bad_signature_is_refused(client, cloud):
    response = post_webhook(client, cloud, inbound_payload(), signature="sha256=00")
    assert response.status_code == 403
    assert not Message.objects.exists()


def status_payload(wamid, status, errors=None):
    item = {
        "id": wamid,
        "status": status,
        "timestamp": "1767225700",
        "recipient_id": "919847012345",
    }
    if errors:
        item["errors"] = errors
    change = {"field": "messages", "value": {"statuses": [item]}}
    return {"object": "whatsapp_business_account", "entry": [{"changes": [change]}]}


def test_status_callbacks_move_the_message_forward_only(client, cloud, asha):
    message = queued(cloud, asha, body="Hi", status=Message.Status.SUBMITTED, provider_id=WAMID)
    assert post_webhook(client, cloud, status_payload(WAMID, "read")).json()["statuses"] == 1
    message.refresh_from_db()
    assert message.status == Message.Status.READ
    assert message.read_at.timestamp() == 1767225700
    assert message.delivered_at is not None
    # A late "delivered" does not move it back.
    assert post_webhook(client, cloud, status_payload(WAMID, "delivered")).json()["statuses"] == 0
    message.refresh_from_db()
    assert message.status == Message.Status.READ


def test_failed_status_keeps_the_reason(client, cloud, asha):
    message = queued(cloud, asha, body="Hi", status=Message.Status.SUBMITTED, provider_id=WAMID)
    errors = [{"code": 131047, "title": "Re-engagement message"}]
    post_webhook(client, cloud, status_payload(WAMID, "failed", errors))
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.error == "131047 Re-engagement message"


def test_a_malformed_webhook_says_what_is_wrong(client, cloud):
    response = post_webhook(client, cloud, {"object": "whatsapp_business_account"})
    assert response.status_code == 400
    assert '"entry" list' in response.json()["message"]


def test_unknown_channel_token(client, db):
    response = client.post("/channels/nope/webhook", data={}, content_type="application/json")
    assert response.status_code == 404
