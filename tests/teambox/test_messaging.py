"""Queueing and sending messages: refusals, the 24-hour rule, retries and the sweep."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from crm import services as crm
from teambox import services
from teambox.models import Message

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_sandbox_delivers_at_once_through_the_task(
    sandbox, asha, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = services.queue_message(sandbox, asha, body="Thanks Asha")
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert message.provider_id.startswith("sandbox-")
    assert message.delivered_at is not None and message.attempts == 1


def test_blacklisted_and_opted_out_contacts_are_refused(sandbox, asha):
    crm.opt_out(asha, "Promotions")
    with pytest.raises(services.MessageRefused, match="opted out of 'Promotions'"):
        services.queue_message(sandbox, asha, body="Sale!", optout_list="Promotions")
    assert services.queue_message(sandbox, asha, body="Your order", optout_list="Billing")
    crm.set_blacklisted(asha, True)
    with pytest.raises(services.MessageRefused, match="blacklisted"):
        services.queue_message(sandbox, asha, body="Your order")
    assert Message.objects.count() == 1


def test_official_channels_need_a_template_outside_the_session(cloud, asha):
    with pytest.raises(services.MessagingError, match="only accepts a template"):
        services.queue_message(cloud, asha, body="Hello")
    assert services.queue_message(cloud, asha, template="hello_world")
    Message.objects.create(
        project_id=cloud.project_id,
        channel=cloud,
        contact=asha,
        address=asha.number,
        direction=Message.Direction.IN,
        status=Message.Status.RECEIVED,
        body="Hi",
    )
    assert services.queue_message(cloud, asha, body="Hello")
    later = timezone.now() + timedelta(hours=25)
    with time_machine.travel(later), pytest.raises(services.MessagingError, match="last 24 hours"):
        services.queue_message(cloud, asha, body="Hello again")


def test_the_same_key_queues_one_message(sandbox, asha):
    first = services.queue_message(sandbox, asha, body="Hi", idempotency_key="run1:step1:a1:x")
    again = services.queue_message(sandbox, asha, body="Hi", idempotency_key="run1:step1:a1:x")
    assert first.pk == again.pk
    assert Message.objects.count() == 1


def test_content_rules(sandbox, push, asha):
    with pytest.raises(services.MessagingError, match="text, a media URL or a template"):
        services.queue_message(sandbox, asha)
    with pytest.raises(services.MessagingError, match="cannot send WhatsApp templates"):
        services.queue_message(push, asha, template="hello_world")


def test_email_channel_sends_with_reply_to(email_channel, asha):
    message = services.queue_message(
        email_channel, asha, body="Your quote", subject="Quote", reply_to="reply+abc@r.example"
    )
    assert message.address == "asha@example.com"
    services.deliver_message(message.pk)
    [sent] = mail.outbox
    assert sent.to == ["asha@example.com"]
    assert sent.reply_to == ["reply+abc@r.example"]
    assert sent.from_email == "Shop <hello@shop.example>"
    assert (sent.subject, sent.body) == ("Quote", "Your quote")
    message.refresh_from_db()
    assert message.status == Message.Status.SUBMITTED
    assert message.provider_id == sent.extra_headers["Message-ID"]


def test_a_contact_without_an_address_is_refused(email_channel, project):
    numbered = crm.upsert_contact(project, "919800000001")
    with pytest.raises(services.MessagingError, match="has no e-mail address"):
        services.queue_message(email_channel, numbered, body="Hi")


def test_transient_errors_are_retried_by_the_sweep_then_given_up(
    push, asha, httpserver, eager_celery
):
    httpserver.expect_request("/api/v2/push").respond_with_data("busy", status=503)
    with time_machine.travel(NOW, tick=False):
        message = services.queue_message(push, asha, body="Hi")
        services.deliver_message(message.pk)
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("queued", 1)
    assert message.next_attempt_at == NOW + timedelta(seconds=30)
    # Not due yet: the sweep leaves it alone.
    with time_machine.travel(NOW + timedelta(seconds=10), tick=False):
        assert services.sweep()[1] == 0
    for minutes in (1, 4, 20):
        with time_machine.travel(NOW + timedelta(minutes=minutes), tick=False):
            assert services.sweep()[1] == 1
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.attempts == services.MAX_SEND_ATTEMPTS
    assert "gave up after 4 tries" in message.error
    assert len(httpserver.log) == 4


def test_the_sweep_sends_messages_the_broker_lost(sandbox, asha, eager_celery):
    with time_machine.travel(NOW, tick=False):
        message = services.queue_message(sandbox, asha, body="Hi")  # on_commit never ran
    with time_machine.travel(NOW + timedelta(minutes=3), tick=False):
        assert services.sweep() == (0, 1, 0)
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED


def test_an_interrupted_send_is_failed_not_repeated(sandbox, asha):
    with time_machine.travel(NOW, tick=False):
        message = services.queue_message(sandbox, asha, body="Hi")
        # A worker claimed it and died before recording the outcome.
        Message.objects.filter(pk=message.pk).update(sending_since=NOW, attempts=1)
    with time_machine.travel(NOW + timedelta(minutes=3), tick=False):
        assert services.sweep() == (1, 0, 0)
        assert services.deliver_message(message.pk) is None
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert "not sent again on its own" in message.error
    assert services.retry_messages(Message.objects.all()) == 1
    assert services.deliver_message(message.pk).status == Message.Status.DELIVERED


def test_inbound_email_reply_finds_the_contact_by_reply_address(client, email_channel, asha):
    address = crm.reply_address(asha)
    response = client.post(
        email_channel.webhook_path,
        data={
            "from": "Someone Else <other@example.com>",
            "to": address,
            "subject": "Re: Quote",
            "text": "Sounds good",
        },
    )
    assert response.status_code == 200
    inbound = Message.objects.get(direction=Message.Direction.IN)
    assert inbound.contact_id == asha.pk
    assert inbound.body == "Re: Quote\n\nSounds good"


def test_the_database_refuses_a_second_copy_of_an_inbound_message(sandbox):
    from django.db import IntegrityError, transaction

    from teambox import inbound
    from teambox.channels import Incoming

    inbound.receive_messages(
        sandbox, [Incoming(address="919800000077", body="Hi", provider_id="w.1")], NOW
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            project_id=sandbox.project_id,
            channel=sandbox,
            direction=Message.Direction.IN,
            address="919800000077",
            provider_id="w.1",
        )
    # Outbound rows and inbound rows without a provider id are not constrained.
    for _ in range(2):
        Message.objects.create(
            project_id=sandbox.project_id, channel=sandbox, direction="in", address="1"
        )
