"""The event webhook's events, driven through the real channel webhooks: a delivery report
when a provider's status webhook moves a message, a new subscriber on a contact's first
message, and the group member payload ready for the WhatsApp groups work."""

import json
from datetime import UTC, datetime

from werkzeug import Response

from crm import services as crm
from teambox.models import Channel, Message, Push, WhatsAppGroup
from teambox.services import queue_message
from webhooks import deliveries, events
from webhooks.models import Delivery

from .conftest import verified

PATH = "/hooks/picky"


def post(client, channel, body):
    return client.post(channel.webhook_path, data=json.dumps(body), content_type="application/json")


def collect(httpserver):
    """The verified bodies the receiver gets."""
    received = []

    def receiver(request):
        received.append(verified(request))
        return Response("", status=204)

    httpserver.expect_request(PATH, method="POST").respond_with_handler(receiver)
    return received


def test_a_status_webhook_sends_a_delivery_report(
    client, project, hooks, httpserver, eager, django_capture_on_commit_callbacks
):
    received = collect(httpserver)
    push = Channel.objects.create(
        project=project,
        name="Push",
        kind=Channel.Kind.PUSH_API,
        credentials={"url": "https://push.example/api", "token": "t", "application": "1"},
    )
    asha = crm.upsert_contact(project, "919847012345", name="Asha")
    call = Push.objects.create(project=project, channel=push, reference_number="ship-7")

    def sent(provider_id):
        return Message.objects.create(
            project=project,
            channel=push,
            contact=asha,
            direction=Message.Direction.OUT,
            address=asha.number,
            body="Your order shipped",
            status=Message.Status.SUBMITTED,
            provider_id=provider_id,
            push=call,
            reference_number=f"ship-7-{provider_id}",
        )

    read, failed, untouched = sent("PA-1"), sent("PA-2"), sent("PA-3")
    changes = [
        {"msg_id": "PA-1", "status": "read"},
        {"msg_id": "PA-2", "status": "failed", "error": "Number not on WhatsApp"},
        {"msg_id": "PA-3", "status": "sent"},  # no move: not reported
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, push, {"data": changes}).status_code == 200
    assert received == [
        {
            "project_id": project.pk,
            "event_id": 1,
            "data": [
                {
                    "push_id": str(call.pk),
                    "number": "919847012345",
                    "msg_id": str(read.pk),
                    "status": 3,
                    "reference_number": "ship-7-PA-1",
                    "error_code": "",
                    "error_message": "",
                },
                {
                    "push_id": str(call.pk),
                    "number": "919847012345",
                    "msg_id": str(failed.pk),
                    "status": 2,
                    "reference_number": "ship-7-PA-2",
                    "error_code": "",
                    "error_message": "Number not on WhatsApp",
                },
            ],
        }
    ]
    assert str(untouched.pk) not in [item["msg_id"] for item in received[0]["data"]]


def test_a_sent_message_is_reported_only_to_projects_that_chose_the_event(
    project, hooks, httpserver, eager, django_capture_on_commit_callbacks
):
    received = collect(httpserver)
    sandbox = Channel.objects.create(project=project, name="Sandbox", kind=Channel.Kind.SANDBOX)
    ravi = crm.upsert_contact(project, "919847000001", name="Ravi")
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_message(sandbox, ravi, body="Hello")
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert [(body["event_id"], body["data"][0]["status"]) for body in received] == [(1, 1)]
    hooks.events = [4]
    hooks.save()
    with django_capture_on_commit_callbacks(execute=True):
        queue_message(sandbox, ravi, body="Hello again")
    assert len(received) == 1


def test_a_first_message_sends_a_new_subscriber_once(
    client, project, hooks, httpserver, eager, django_capture_on_commit_callbacks
):
    received = collect(httpserver)
    sandbox = Channel.objects.create(project=project, name="Sandbox", kind=Channel.Kind.SANDBOX)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, sandbox, {"number": "919847011111", "message": "Hi <b>", "name": "Ravi"})
    [body] = received
    contact = crm.find_contact(project, number="919847011111")
    message = Message.objects.get(contact=contact)
    assert body["event_id"] == 4 and body["project_id"] == project.pk
    [item] = body["data"]
    assert item == {
        "subscriber_id": contact.pk,
        "mobile": "919847011111",
        "name": "Ravi",
        "email": "",
        "profile_pic": "",
        "channel": "Sandbox",
        "channel_id": sandbox.pk,
        "message": "Hi <b>",
        "date": item["date"],
    }
    assert item["date"].endswith("+05:30")  # the project's time zone, Asia/Kolkata
    assert datetime.fromisoformat(item["date"]) == message.created_at.replace(microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, sandbox, {"number": "919847011111", "message": "Again"})
    assert len(received) == 1
    assert Delivery.objects.filter(event=4).count() == 1


def test_group_member_event_payload(project, hooks, httpserver, eager):
    received = collect(httpserver)
    waha = Channel.objects.create(
        project=project, name="Community", kind=Channel.Kind.WHATSAPP_WEB, credentials={}
    )
    group = WhatsAppGroup.objects.create(
        channel=waha, gateway_id="120363025246125486@g.us", subject="VIP buyers"
    )
    at = datetime(2026, 3, 2, 4, 30, tzinfo=UTC)
    delivery = events.group_member_event(group, ["919847000001", "919847000002"], "left", at)
    deliveries.deliver(delivery.pk)
    assert received == [
        {
            "project_id": project.pk,
            "event_id": 3,
            "data": [
                {
                    "group_id": "120363025246125486@g.us",
                    "group_subject": "VIP buyers",
                    "number": number,
                    "action": 2,
                    "application": "10",
                    "date": "2026-03-02T10:00:00+05:30",
                }
                for number in ["919847000001", "919847000002"]
            ],
        }
    ]
