"""The push API adapter against a real local HTTP server."""

import json

from teambox import services
from teambox.models import Message


def queued(channel, contact, **fields):
    return Message.objects.create(
        project_id=channel.project_id,
        channel=channel,
        contact=contact,
        direction=Message.Direction.OUT,
        address=contact.number,
        **fields,
    )


def test_text_and_media_wire_format(push, asha, httpserver):
    httpserver.expect_ordered_request(
        "/api/v2/push",
        method="POST",
        json={
            "token": "push-token",
            "application": "1",
            "data": [{"number": "919847012345", "message": "Hello Asha"}],
        },
        headers={"Content-Type": "application/json"},
    ).respond_with_json(
        {
            "status": 100,
            "message": "Success",
            "data": [{"number": "919847012345", "msg_id": "PA-1"}],
        }
    )
    httpserver.expect_ordered_request(
        "/api/v2/push",
        method="POST",
        json={
            "token": "push-token",
            "application": "1",
            "data": [
                {
                    "number": "919847012345",
                    "message": "Lamp",
                    "media-url": "https://cdn.example.com/lamp.jpg",
                }
            ],
        },
    ).respond_with_json({"status": 100, "push_id": "PA-2"})
    first = services.deliver_message(queued(push, asha, body="Hello Asha").pk)
    second = services.deliver_message(
        queued(push, asha, body="Lamp", media_url="https://cdn.example.com/lamp.jpg").pk
    )
    httpserver.check_assertions()
    assert (first.status, first.provider_id) == ("submitted", "PA-1")
    assert second.provider_id == "PA-2"


def test_an_error_status_in_a_200_answer_fails_the_message(push, asha, httpserver):
    httpserver.expect_oneshot_request("/api/v2/push").respond_with_json(
        {"status": 101, "message": "Invalid token"}
    )
    message = services.deliver_message(queued(push, asha, body="Hi").pk)
    assert message.status == Message.Status.FAILED
    assert message.error == "Push API refused the message: Invalid token"


def test_a_template_cannot_go_through_push(push, asha):
    message = services.deliver_message(queued(push, asha, template="order_shipped").pk)
    assert message.status == Message.Status.FAILED
    assert message.error == "Push API channels cannot send WhatsApp templates."


def test_inbound_and_status_callbacks(client, push, asha, django_capture_on_commit_callbacks):
    sent = queued(push, asha, body="Hi", status=Message.Status.SUBMITTED, provider_id="PA-9")
    response = client.post(
        push.webhook_path,
        data=json.dumps({"msg_id": "PA-9", "status": "delivered"}),
        content_type="application/json",
    )
    assert response.json() == {"status": "ok", "messages": 0, "statuses": 1}
    sent.refresh_from_db()
    assert sent.status == Message.Status.DELIVERED and sent.delivered_at is not None

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            push.webhook_path,
            data=json.dumps(
                {"data": [{"number": "+91 98470 12345", "message": "Thanks!", "msg_id": "IN-1"}]}
            ),
            content_type="application/json",
        )
    assert response.json()["messages"] == 1
    inbound = Message.objects.get(direction=Message.Direction.IN)
    assert (inbound.contact_id, inbound.body) == (asha.pk, "Thanks!")
    assert inbound.address == "919847012345"
    asha.refresh_from_db()
    assert asha.name == "Asha" and asha.last_interaction_at is not None


def test_an_unknown_status_is_a_clear_400(client, push):
    response = client.post(
        push.webhook_path,
        data=json.dumps({"msg_id": "PA-9", "status": "lost"}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "Unknown status 'lost'" in response.json()["message"]


def test_a_sender_that_is_not_a_number_is_kept_without_a_contact(
    client, push, django_capture_on_commit_callbacks
):
    """Alphanumeric senders (VM-AMAZON) and short codes write to business numbers: their
    messages are kept, with the address as sent, and no contact (none can be messaged)."""
    from crm.models import Contact
    from teambox.signals import messages_received

    senders = ["VM-AMAZON", "VM-AMAZON1234567", "56161", "12"]
    received = []

    def on_messages(sender, messages, channel, **kwargs):
        received.extend((message.address, message.contact) for message in messages)

    messages_received.connect(on_messages)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                push.webhook_path,
                data=json.dumps({"data": [{"number": s, "message": "OTP 4711"} for s in senders]}),
                content_type="application/json",
            )
    finally:
        messages_received.disconnect(on_messages)
    assert response.json() == {"status": "ok", "messages": 4, "statuses": 0}
    stored = Message.objects.filter(direction=Message.Direction.IN)
    assert sorted(stored.values_list("address", "contact", "body")) == sorted(
        (sender, None, "OTP 4711") for sender in senders
    )
    assert not Contact.objects.exists()
    assert sorted(received) == sorted((sender, None) for sender in senders)
