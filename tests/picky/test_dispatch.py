"""Publishing accepted events in batches (picky/dispatch.py Batcher)."""

import importlib

import pytest
from django.db import transaction

from connectors import queue, services
from connectors.models import Connector, Event
from picky import dispatch
from picky.celery import app
from tests.brokers import use_broker_for_publishing


@pytest.fixture
def in_memory_broker():
    use_broker_for_publishing("memory://")
    drain_messages()  # left by other tests that publish to this process's memory broker
    yield
    use_broker_for_publishing("memory://")
    drain_messages()
    use_broker_for_publishing(None)


def drain_messages():
    """(task name, args) of every message waiting in the default queue, taken off it."""
    messages = []
    with app.connection_for_write() as connection:
        queue = connection.SimpleQueue("celery")
        while queue.qsize():
            message = queue.get(timeout=1)
            messages.append((message.headers["task"], message.payload[0]))
            message.ack()
        queue.close()
    return messages


@pytest.fixture
def batched(settings, monkeypatch):
    """This process publishes accepted events as a web process does."""
    settings.PICKY_EVENT_BATCH_SECONDS = 0.5
    monkeypatch.setattr(queue, "_event_batcher", None)
    batcher = queue.publish_events_in_batches()
    yield batcher
    batcher.flush()


def accept(connector, n):
    return services.record_event(
        connector, {"n": n}, method="POST", headers={}, source_ip="127.0.0.1"
    )


@pytest.mark.django_db(transaction=True)
def test_events_accepted_together_travel_in_one_message(project, in_memory_broker, batched):
    connector = Connector.objects.create(project=project, name="Leads", sample_payload={})
    events = [accept(connector, n) for n in range(30)]
    batcher_thread = batched.thread
    batcher_thread.join(timeout=1.5)  # the thread lives on; this waits out the linger
    messages = drain_messages()
    assert messages == [("connectors.tasks.process_events", [[event.pk for event in events]])]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_event_is_not_published(project, in_memory_broker, batched):
    connector = Connector.objects.create(project=project, name="Leads", sample_payload={})
    with pytest.raises(RuntimeError), transaction.atomic():
        accept(connector, 1)
        raise RuntimeError("the request failed after the INSERT")
    kept = accept(connector, 2)
    batched.flush()
    assert drain_messages() == [("connectors.tasks.process_events", [[kept.pk]])]
    assert list(Event.objects.values_list("pk", flat=True)) == [kept.pk]


@pytest.mark.django_db(transaction=True)
def test_batches_are_capped_and_a_broker_outage_leaves_the_events_to_the_sweep(
    project, in_memory_broker
):
    connector = Connector.objects.create(project=project, name="Leads", sample_payload={})
    from connectors.tasks import process_events

    batcher = dispatch.Batcher(process_events, linger=60, max_items=4)
    for n in range(10):
        batcher.add(n)
    batcher.flush()
    assert [args for _, args in drain_messages()] == [[[0, 1, 2, 3]], [[4, 5, 6, 7]], [[8, 9]]]

    use_broker_for_publishing("redis://127.0.0.1:9/0")  # nothing listens on the discard port
    event = accept(connector, 1)  # published at once: this process does not batch
    batcher.add(event.pk)
    batcher.flush()  # fails quietly: the event is still queued for the sweep
    assert Event.objects.get(pk=event.pk).status == Event.Status.QUEUED


def test_the_web_application_publishes_events_in_batches(monkeypatch):
    # Patched before the first import too, whose batcher would outlive the test.
    monkeypatch.setattr(queue, "_event_batcher", None)
    import picky.wsgi

    importlib.reload(picky.wsgi)  # as gunicorn loads it
    assert queue._event_batcher is not None
    assert queue._event_batcher.task.name == "connectors.tasks.process_events"


def test_a_published_message_shows_its_arguments_plainly(in_memory_broker):
    from connectors.tasks import process_events

    assert dispatch.enqueue(process_events, [3, 1, 2])
    with app.connection_for_write() as connection:
        queue = connection.SimpleQueue("celery")
        message = queue.get(timeout=1)
        assert (message.headers["argsrepr"], message.headers["kwargsrepr"]) == (
            "([3, 1, 2],)",
            "{}",
        )
        assert message.payload[0] == [[3, 1, 2]]
        message.ack()
        queue.close()
