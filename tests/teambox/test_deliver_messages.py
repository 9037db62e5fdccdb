"""deliver_messages: a batch of queued messages sent through their channel, each at most
once, with one status signal for the batch."""

import pytest
from django.utils import timezone

from crm import services as crm
from teambox import services
from teambox.models import Message
from teambox.signals import message_statuses_changed

pytestmark = pytest.mark.django_db


@pytest.fixture
def signalled():
    batches = []

    def on_statuses(sender, messages, **kwargs):
        batches.append(sorted(message.pk for message in messages))

    message_statuses_changed.connect(on_statuses)
    yield batches
    message_statuses_changed.disconnect(on_statuses)


def test_a_batch_is_sent_once_with_one_signal(
    project, sandbox, signalled, django_capture_on_commit_callbacks
):
    contacts = [crm.upsert_contact(project, f"91984701234{n}") for n in range(4)]
    queued = [services.queue_message(sandbox, c, body=f"Hi {n}") for n, c in enumerate(contacts)]
    # One is being sent by another worker: it is left to that one.
    Message.objects.filter(pk=queued[3].pk).update(sending_since=timezone.now())
    # A message the channel refuses fails on its own, the others go.
    Message.objects.filter(pk=queued[2].pk).update(body="")
    ids = [message.pk for message in queued]

    with django_capture_on_commit_callbacks(execute=True):
        sent = services.deliver_messages(ids)

    assert sorted(message.pk for message in sent) == ids[:2]
    rows = {m.pk: m for m in Message.objects.filter(pk__in=ids)}
    assert [rows[i].status for i in ids] == ["delivered", "delivered", "failed", "queued"]
    assert rows[ids[0]].provider_id.startswith("sandbox-")
    assert rows[ids[0]].provider_id != rows[ids[1]].provider_id
    assert rows[ids[0]].attempts == 1 and rows[ids[0]].sending_since is None
    assert rows[ids[2]].error == "The message has no text, media or template."
    assert signalled == [[ids[2]], ids[:2]]
    assert services.deliver_messages(ids) == []  # nothing is sent twice
