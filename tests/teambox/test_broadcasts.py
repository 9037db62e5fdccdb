"""Broadcasts: segments, batches, blacklist and opt-out, the daily cap."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from crm import services as crm
from crm.models import Contact, OptOut, OptOutList, Tag
from teambox import broadcasts, services
from teambox.models import Broadcast, BroadcastRecipient, Channel, Message

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def make_contacts(project, count, tag):
    contacts = Contact.objects.bulk_create(
        Contact(project=project, number=f"9198{i:08d}", name=f"Customer {i}") for i in range(count)
    )
    Contact.tags.through.objects.bulk_create(
        Contact.tags.through(contact_id=contact.pk, tag_id=tag.pk) for contact in contacts
    )
    return contacts


def test_two_thousand_contacts_in_batches_within_the_daily_cap(
    project, eager_celery, django_capture_on_commit_callbacks
):
    channel = Channel.objects.create(
        project=project, name="Sandbox", kind=Channel.Kind.SANDBOX, daily_cap=1000
    )
    customers = Tag.objects.create(project=project, name="Customers")
    contacts = make_contacts(project, 2000, customers)
    Contact.objects.create(project=project, number="919999999999", name="Not tagged")
    Contact.objects.filter(pk__in=[c.pk for c in contacts[:10]]).update(blacklisted=True)
    promotions = OptOutList.objects.create(project=project, name="Promotions")
    OptOut.objects.bulk_create(
        OptOut(contact=contact, optout_list=promotions) for contact in contacts[10:25]
    )
    broadcast = broadcasts.create_broadcast(
        channel,
        name="Spring sale",
        segment={"tags": ["customers"]},
        optout_list="Promotions",
        body="Hi {{ contact.name }}, spring sale today!",
        batch_size=200,
    )
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        broadcasts.start_broadcast(broadcast)
    broadcast.refresh_from_db()
    assert (broadcast.total, broadcast.skipped, broadcast.sent) == (2000, 25, 1000)
    assert broadcast.status == Broadcast.Status.WAITING
    assert broadcast.resume_at == NOW + timedelta(hours=24)
    assert Message.objects.filter(broadcast=broadcast, status="delivered").count() == 1000
    assert broadcasts.remaining_capacity(channel, NOW) == 0
    first = Message.objects.filter(broadcast=broadcast).order_by("pk").first()
    assert first.body == f"Hi {first.contact.name}, spring sale today!"
    reasons = set(broadcast.recipients.filter(status="skipped").values_list("reason", flat=True))
    assert reasons == {"The contact is blacklisted.", "The contact opted out of 'Promotions'."}

    # Before the window frees up, the sweep leaves it waiting.
    with time_machine.travel(NOW + timedelta(hours=23), tick=False):
        assert services.sweep()[2] == 0
    with time_machine.travel(NOW + timedelta(hours=24, seconds=1), tick=False):
        assert services.sweep()[2] == 1
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.DONE
    assert (broadcast.sent, broadcast.skipped) == (1975, 25)
    assert broadcast.recipients.filter(status=BroadcastRecipient.Status.PENDING).count() == 0
    assert Message.objects.filter(broadcast=broadcast).count() == 1975
    # Nobody got it twice, nobody refused got it.
    assert Message.objects.values("contact").distinct().count() == 1975
    assert not Message.objects.filter(contact__blacklisted=True).exists()
    assert broadcasts.progress(broadcast)["delivered"] == 1975


def test_the_cap_counts_other_messages_of_the_channel(project, sandbox, asha):
    sandbox.daily_cap = 3
    sandbox.save()
    with time_machine.travel(NOW, tick=False):
        services.queue_message(sandbox, asha, body="One")
        services.queue_message(sandbox, asha, body="Two")
        assert broadcasts.remaining_capacity(sandbox) == 2
    with time_machine.travel(NOW + timedelta(hours=24, seconds=1), tick=False):
        assert broadcasts.remaining_capacity(sandbox) == 3


def test_official_numbers_start_with_a_cap_of_1000(cloud):
    assert cloud.daily_cap == 1000


def test_official_broadcast_without_template_skips_contacts_outside_the_session(
    project, cloud, asha
):
    ravi = crm.upsert_contact(project, "919800000077", name="Ravi")
    Message.objects.create(
        project=project,
        channel=cloud,
        contact=ravi,
        address=ravi.number,
        direction=Message.Direction.IN,
        status=Message.Status.RECEIVED,
        body="Hi",
    )
    broadcast = broadcasts.create_broadcast(cloud, name="News", body="News!")
    broadcasts.start_broadcast(broadcast)
    message_ids, more = broadcasts.queue_batch(broadcast.pk)
    assert not more and len(message_ids) == 1
    assert Message.objects.get(pk=message_ids[0]).contact_id == ravi.pk
    skipped = broadcast.recipients.get(contact=asha)
    assert (
        skipped.reason == "No message from the contact in the last 24 hours and no template given."
    )


def test_segment_errors_are_named(sandbox):
    with pytest.raises(services.MessagingError, match="segment.colour: Unknown segment key"):
        broadcasts.create_broadcast(sandbox, name="x", segment={"colour": "red"}, body="x")


def test_a_broadcast_starts_once(sandbox, asha):
    broadcast = broadcasts.create_broadcast(sandbox, name="Once", body="Hi")
    broadcasts.start_broadcast(broadcast)
    with pytest.raises(services.MessagingError, match="already been started"):
        broadcasts.start_broadcast(broadcast)


def test_cancel_stops_the_next_batches(sandbox, asha):
    broadcast = broadcasts.create_broadcast(sandbox, name="Stop", body="Hi")
    broadcasts.start_broadcast(broadcast)
    assert broadcasts.cancel_broadcast(broadcast) == 1
    assert broadcasts.send_batch(broadcast.pk) is False
    assert not Message.objects.exists()
