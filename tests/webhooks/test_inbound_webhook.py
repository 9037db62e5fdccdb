"""The global inbound webhook: a message posted to the sandbox channel's webhook reaches a
real local receiver (pytest-httpserver), signed and in Picky Assist's documented shape, and
the reply in its JSON answer goes back to the customer through the sandbox, once."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from werkzeug import Response

from crm.models import Contact
from teambox.models import Channel, Message
from webhooks import deliveries, inbound
from webhooks.models import Delivery, WebhookSettings

from .conftest import SECRET, receiver_url, verified

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PATH = "/hooks/inbound"
NUMBER = "919847012345"


@pytest.fixture
def sandbox(project):
    return Channel.objects.create(project=project, name="Sandbox", kind=Channel.Kind.SANDBOX)


@pytest.fixture
def hooks(project, httpserver, local_outbound):
    return WebhookSettings.objects.create(
        project=project, inbound_url=receiver_url(httpserver, PATH), secret=SECRET
    )


@pytest.fixture
def write(client, sandbox, django_capture_on_commit_callbacks):
    """Play the customer: POST a message to the sandbox channel's webhook, and run what
    its commit hands on (the deliveries, and with `eager` the workers' tasks)."""

    def post(text, number=NUMBER, name="Asha Nair"):
        body = {"number": number, "message": text, "name": name}
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                sandbox.webhook_path, data=json.dumps(body), content_type="application/json"
            )
        assert response.status_code == 200, response.content
        return Message.objects.filter(direction=Message.Direction.IN).latest("pk")

    return post


def replies():
    return list(
        Message.objects.filter(direction=Message.Direction.OUT).values_list(
            "body", "media_url", "address"
        )
    )


def note_of(delivery):
    return delivery.attempt_log.latest("at", "id").note


def test_a_message_reaches_the_receiver_signed_and_its_json_reply_goes_back_through_the_channel(
    project, sandbox, hooks, httpserver, eager, write
):
    received = []

    def receiver(request):
        received.append((verified(request), request.headers["X-Picky-Event"]))
        return Response(
            json.dumps({"message-out": "Thanks Asha, we call at 6pm", "delay": "0"}),
            content_type="application/json",
        )

    httpserver.expect_request(PATH, method="POST").respond_with_handler(receiver)
    with time_machine.travel(START, tick=False):
        message = write("Call me at 6pm & ask for Asha")
    contact = Contact.objects.get(number=NUMBER)
    assert received == [
        (
            {
                "number": NUMBER,
                "name": "Asha Nair",
                "message-in": "Call+me+at+6pm+%26+ask+for+Asha",
                "message-in-raw": "Call me at 6pm & ask for Asha",
                "message_in_raw": "Call me at 6pm & ask for Asha",
                "media-url": "",
                "application": "1",
                "channel_id": sandbox.pk,
                "direction": 0,
                "unique-id": str(message.pk),
                "project-id": str(project.pk),
                "time": "2026-03-02T14:30:00+05:30",
            },
            "inbound",
        )
    ]
    [reply] = Message.objects.filter(direction=Message.Direction.OUT)
    assert (reply.channel, reply.contact) == (sandbox, contact)
    assert reply.body == "Thanks Asha, we call at 6pm"
    assert reply.status == Message.Status.DELIVERED  # the sandbox sent it
    delivery = Delivery.objects.get(kind=Delivery.Kind.INBOUND)
    assert (delivery.message, delivery.status) == (message, Delivery.Status.SUCCEEDED)
    assert note_of(delivery) == f"Replied with message {reply.pk}."


def test_a_reply_with_media_goes_back_with_its_media(hooks, httpserver, eager, write):
    httpserver.expect_request(PATH).respond_with_json(
        {"message-out": "Your invoice", "media-url": "https://files.example.com/inv-7.pdf"}
    )
    write("invoice please")
    assert replies() == [("Your invoice", "https://files.example.com/inv-7.pdf", NUMBER)]


@pytest.mark.parametrize(
    "answer, note",
    [
        (Response("OK", content_type="text/plain"), "No reply: the answer is empty or not JSON."),
        (Response("", status=204), "No reply: the answer is empty or not JSON."),
        (
            Response('{"status": "received"}', content_type="application/json"),
            'No reply: the answer has no "message-out" or "media-url".',
        ),
        (
            Response('{"message-out": "Hi", "media-url": "file:///etc/passwd"}'),
            'No reply: "media-url" is not an http(s) URL: file:///etc/passwd',
        ),
    ],
)
def test_an_answer_without_a_reply_sends_nothing_and_the_log_says_so(
    hooks, httpserver, eager, write, answer, note
):
    httpserver.expect_request(PATH).respond_with_response(answer)
    write("hello")
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert note_of(delivery) == note
    assert replies() == []


def test_a_500_then_a_200_on_the_sweeps_retry_replies_once_and_a_redeliver_does_not_reply_again(
    hooks, httpserver, eager, write, django_capture_on_commit_callbacks
):
    httpserver.expect_ordered_request(PATH).respond_with_data("down", status=500)
    httpserver.expect_ordered_request(PATH).respond_with_json({"message-out": "Back online"})
    httpserver.expect_ordered_request(PATH).respond_with_json({"message-out": "Back online"})
    with time_machine.travel(START, tick=False) as clock:
        write("anyone there?")
        delivery = Delivery.objects.get()
        assert (delivery.status, replies()) == (Delivery.Status.FAILED, [])
        clock.shift(timedelta(seconds=5))
        assert deliveries.sweep() == 1  # the retry, sent by the (eager) worker
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.SUCCEEDED, 2)
    assert replies() == [("Back online", "", NUMBER)]
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries.redeliver(delivery)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert len(httpserver.log) == 3  # the receiver had it again...
    assert replies() == [("Back online", "", NUMBER)]  # ...and the customer one reply
    [reply] = Message.objects.filter(direction=Message.Direction.OUT)
    assert note_of(delivery) == f"Replied with message {reply.pk}."


def test_a_slow_receiver_does_not_hold_up_the_ingest_and_times_out_without_a_reply(
    hooks, httpserver, settings, write
):
    settings.PICKY_WEBHOOK_TIMEOUT_SECONDS = 0.3

    def slow(request):
        time.sleep(0.6)
        return Response('{"message-out": "too late"}', content_type="application/json")

    httpserver.expect_request(PATH).respond_with_handler(slow)
    # The webhook is answered with the message stored and its delivery waiting for a
    # worker (none runs here): the receiver has not been called.
    message = write("hello?")
    delivery = Delivery.objects.get()
    assert (delivery.message, delivery.status) == (message, Delivery.Status.PENDING)
    assert httpserver.log == []
    deliveries.deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    [attempt] = delivery.attempt_log.all()
    assert attempt.error.startswith("No answer within 0.3 seconds")
    assert replies() == []


def test_a_batch_reads_the_settings_once_and_makes_one_delivery_per_message(
    project, sandbox, hooks, other_project
):
    messages = [
        Message.objects.create(
            project=project, channel=sandbox, direction="in", address=f"9198470123{n}", body=f"#{n}"
        )
        for n in range(3)
    ]
    with CaptureQueriesContext(connection) as queries:
        inbound.forward_messages(messages, sandbox)
    settings_reads = [q for q in queries if "webhooks_webhooksettings" in q["sql"]]
    assert len(settings_reads) == 1
    made = Delivery.objects.order_by("pk")
    assert [delivery.message for delivery in made] == messages
    assert [json.loads(d.body)["message-in-raw"] for d in made] == [m.body for m in messages]
    # A project without an inbound URL, or with its webhooks disabled, gets nothing.
    elsewhere = Channel.objects.create(
        project=other_project, name="Sandbox", kind=Channel.Kind.SANDBOX
    )
    assert inbound.forward_messages(messages, elsewhere) == []
    hooks.enabled = False
    hooks.save()
    assert inbound.forward_messages(messages, sandbox) == []
    assert Delivery.objects.count() == 3
