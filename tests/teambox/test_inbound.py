"""Large channel webhooks: stored at once, processed by a worker in bulk, exactly once."""

import json
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from crm import services as crm
from crm.models import Contact
from teambox import inbound
from teambox.models import InboundDelivery, Message
from teambox.signals import messages_received

BATCH = 12_000


def pushed(count, senders=3000, prefix="IN"):
    """A push_api webhook body with `count` messages from `senders` numbers."""
    items = [
        {
            "number": f"9198470{n % senders:05d}",
            "message": f"Message {n}",
            "msg_id": f"{prefix}-{n}",
        }
        for n in range(count)
    ]
    for n, item in enumerate(items[:senders]):
        item["name"] = f"Sender {n}"
    return {"data": items}


def post(client, channel, body):
    return client.post(channel.webhook_path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def signalled():
    """The ids of the messages of each `messages_received` sent, a list per signal."""
    received = []

    def on_messages(sender, messages, channel, **kwargs):
        received.append([message.pk for message in messages])

    messages_received.connect(on_messages)
    yield received
    messages_received.disconnect(on_messages)


def test_a_large_body_is_answered_at_once_and_stored_once_by_the_worker(
    client, push, project, signalled, django_capture_on_commit_callbacks
):
    known = crm.upsert_contact(project, "919847000005", name="Known")
    body = pushed(BATCH)
    assert len(json.dumps(body)) < 1024 * 1024
    started = time.monotonic()
    response = post(client, push, body)
    answered_in = time.monotonic() - started
    delivery = InboundDelivery.objects.get()
    assert response.status_code == 200
    assert response.json() == {
        "status": "accepted",
        "delivery": delivery.pk,
        "messages": BATCH,
        "statuses": 0,
    }
    # Generous: the old inline path took minutes here; storing the body takes a moment.
    assert answered_in < 10, answered_in
    assert delivery.status == InboundDelivery.Status.QUEUED
    assert not Message.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        done = inbound.process_delivery(delivery.pk)
    assert done.status == InboundDelivery.Status.DONE
    assert Message.objects.filter(direction=Message.Direction.IN).count() == BATCH
    delivery.refresh_from_db()
    assert (delivery.stored, delivery.attempts, delivery.payload) == (BATCH, 1, None)
    # One signal for the whole delivery: its receivers look up what they need once.
    [batch] = signalled
    assert len(batch) == len(set(batch)) == BATCH
    # One contact per sender: a known one keeps its name, new ones take the webhook's.
    assert Contact.objects.count() == 3000
    known.refresh_from_db()
    assert known.name == "Known" and known.last_interaction_at == delivery.received_at
    new = Contact.objects.get(number="919847000007")
    assert new.name == "Sender 7" and new.last_interaction_at == delivery.received_at
    assert Message.objects.filter(contact=new).count() == BATCH // 3000


def test_processing_a_delivery_again_stores_nothing_new(push, django_capture_on_commit_callbacks):
    body = pushed(300, senders=50)
    first = inbound.accept_webhook(push, body)
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound.process_delivery(first.delivery_id).stored == 300
    # The task delivered again (a worker lost its acknowledgement): nothing to do.
    assert inbound.process_delivery(first.delivery_id) is None
    # The provider sends the same body again: its messages are stored already.
    again = inbound.accept_webhook(push, body)
    assert inbound.process_delivery(again.delivery_id).stored == 0
    assert Message.objects.count() == 300
    assert InboundDelivery.objects.get(pk=first.delivery_id).attempts == 1


def test_a_crash_in_the_middle_leaves_the_delivery_to_retry_without_duplicates(
    push, monkeypatch, signalled, django_capture_on_commit_callbacks
):
    accepted = inbound.accept_webhook(push, pushed(2500, senders=700))

    def crash(*args):
        # The messages are INSERTed by now; the statuses come next.
        assert Message.objects.count() == 2500
        raise OSError("disk full")

    with monkeypatch.context() as patched:
        patched.setattr(inbound, "apply_statuses", crash)
        with django_capture_on_commit_callbacks(execute=True):
            assert inbound.process_delivery(accepted.delivery_id) is None
    delivery = InboundDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (InboundDelivery.Status.QUEUED, 1)
    assert "OSError: disk full" in delivery.error and "tried again" in delivery.error
    assert not Message.objects.exists() and not Contact.objects.exists()
    assert signalled == []

    with django_capture_on_commit_callbacks(execute=True):
        assert inbound.process_delivery(accepted.delivery_id).stored == 2500
    assert Message.objects.count() == 2500 and Contact.objects.count() == 700
    assert [len(batch) for batch in signalled] == [2500]


def test_the_sweep_hands_out_a_delivery_whose_worker_died(
    push, settings, eager_celery, django_capture_on_commit_callbacks
):
    accepted = inbound.accept_webhook(push, pushed(150))
    # A worker claimed it, then was killed before committing anything.
    assert inbound.claim_delivery(accepted.delivery_id)
    assert inbound.sweep_deliveries() == 0  # its lease runs
    later = timezone.now() + timedelta(seconds=settings.PICKY_RUN_LEASE_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        assert inbound.sweep_deliveries() == 1
    delivery = InboundDelivery.objects.get()
    assert (delivery.status, delivery.stored, delivery.attempts) == ("done", 150, 2)
    assert Message.objects.count() == 150


def test_a_delivery_that_keeps_failing_is_failed_with_its_reason(push, monkeypatch):
    accepted = inbound.accept_webhook(push, pushed(150))

    def crash(*args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(crm, "record_senders", crash)
    for _ in range(inbound.MAX_ATTEMPTS + 1):
        assert inbound.process_delivery(accepted.delivery_id) is None
    delivery = InboundDelivery.objects.get()
    assert delivery.status == InboundDelivery.Status.FAILED
    assert delivery.error.startswith(
        f"Gave up after {inbound.MAX_ATTEMPTS} attempts; the last one: Processing failed "
        "(RuntimeError: a bug)"
    )
    assert delivery.payload == pushed(150)
    monkeypatch.undo()
    assert inbound.retry_deliveries(InboundDelivery.objects.all()) == 1
    assert inbound.process_delivery(accepted.delivery_id).stored == 150


def test_statuses_in_a_large_body_move_messages_forward_only(push, asha):
    def sent(provider_id, status=Message.Status.SUBMITTED):
        return Message.objects.create(
            project_id=push.project_id,
            channel=push,
            contact=asha,
            direction=Message.Direction.OUT,
            address=asha.number,
            body="Hi",
            status=status,
            provider_id=provider_id,
        )

    read_later, failed, already_read = sent("PA-1"), sent("PA-2"), sent("PA-3", "read")
    others = [sent(f"PA-X{n}") for n in range(150)]
    changes = [
        {"msg_id": "PA-1", "status": "delivered"},
        {"msg_id": "PA-1", "status": "read"},
        {"msg_id": "PA-1", "status": "delivered"},  # late: no move back
        {"msg_id": "PA-2", "status": "failed", "error": "Number not on WhatsApp"},
        {"msg_id": "PA-3", "status": "failed"},  # read messages do not fail
        {"msg_id": "PA-unknown", "status": "read"},
        *({"msg_id": message.provider_id, "status": "delivered"} for message in others),
    ]
    accepted = inbound.accept_webhook(push, {"data": changes})
    assert accepted.statuses == len(changes) and accepted.delivery_id is not None
    assert inbound.process_delivery(accepted.delivery_id).applied == 3 + 150
    read_later.refresh_from_db()
    assert read_later.status == "read" and read_later.read_at and read_later.delivered_at
    failed.refresh_from_db()
    assert (failed.status, failed.error) == ("failed", "Number not on WhatsApp")
    already_read.refresh_from_db()
    assert already_read.status == "read"
    assert Message.objects.filter(provider_id__startswith="PA-X", status="delivered").count() == 150


def test_a_body_the_channel_cannot_read_is_refused_before_anything_is_stored(client, push):
    body = pushed(200)
    body["data"][150]["msg_id"] = "x" * 201
    response = post(client, push, body)
    assert response.status_code == 400
    assert "longer than 200 characters" in response.json()["message"]
    body["data"][150] = {"msg_id": "PA-9", "status": "lost"}
    assert "Unknown status 'lost'" in post(client, push, body).json()["message"]
    assert not InboundDelivery.objects.exists() and not Message.objects.exists()


def test_done_deliveries_are_pruned_after_the_projects_retention(push, project):
    accepted = inbound.accept_webhook(push, pushed(150))
    inbound.process_delivery(accepted.delivery_id)
    failed = inbound.accept_webhook(push, pushed(150, prefix="F"))
    InboundDelivery.objects.filter(pk=failed.delivery_id).update(status="failed")
    assert inbound.prune_deliveries() == 0
    later = timezone.now() + timedelta(days=project.retention_days, seconds=1)
    assert inbound.prune_deliveries(later) == 1
    assert list(InboundDelivery.objects.values_list("pk", flat=True)) == [failed.delivery_id]
    assert Message.objects.count() == 150


def test_the_admin_lists_deliveries_and_processes_failed_ones_again(client, member, push):
    accepted = inbound.accept_webhook(push, pushed(150))
    InboundDelivery.objects.filter(pk=accepted.delivery_id).update(
        status="failed", error="Gave up after 5 attempts"
    )
    client.force_login(member)
    page = client.get("/admin/teambox/inbounddelivery/").content.decode()
    assert "Gave up after 5 attempts" in page
    response = client.post(
        "/admin/teambox/inbounddelivery/",
        {"action": "process_again", "_selected_action": [accepted.delivery_id]},
        follow=True,
    )
    assert "1 failed delivery queued again." in response.content.decode()
    assert InboundDelivery.objects.get().status == InboundDelivery.Status.QUEUED


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_delivery_a_worker_holds_is_left_to_it(push):
    accepted = inbound.accept_webhook(push, pushed(150))
    locked, release = threading.Event(), threading.Event()

    def worker_in_the_middle():
        from django.db import connections

        try:
            with transaction.atomic():
                InboundDelivery.objects.select_for_update().get(pk=accepted.delivery_id)
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=worker_in_the_middle)
    holder.start()
    assert locked.wait(30)
    try:
        assert inbound.process_delivery(accepted.delivery_id) is None
        assert InboundDelivery.objects.get().attempts == 0
        # However long the worker takes, the sweep does not hand its delivery out again.
        later = timezone.now() + timedelta(days=1)
        assert inbound.sweep_deliveries(later) == 0
    finally:
        release.set()
        holder.join(30)
    assert inbound.process_delivery(accepted.delivery_id).stored == 150
    assert Message.objects.count() == 150


def test_a_message_a_concurrent_webhook_stored_meanwhile_is_not_stored_again(push, monkeypatch):
    def one(msg_id, number="919800000001"):
        return {"number": number, "message": "hi", "msg_id": msg_id}

    inbound.accept_webhook(push, one("m-1"))
    real = inbound.not_yet_stored
    looks = []

    def first_look_before_the_other_commit(channel, incoming):
        looks.append(len(incoming))
        return list(incoming) if len(looks) == 1 else real(channel, incoming)

    monkeypatch.setattr(inbound, "not_yet_stored", first_look_before_the_other_commit)
    accepted = inbound.accept_webhook(push, {"data": [one("m-1"), one("m-2", "919800000002")]})
    assert accepted.messages == 2 and looks == [2, 2]
    assert sorted(Message.objects.values_list("provider_id", flat=True)) == ["m-1", "m-2"]
