"""A worker whose acknowledgements were lost in a broker outage reconnects
(picky/celery.py StalledConsumerWatch; the Redis drill shows it on a real worker)."""

from types import SimpleNamespace

import pytest
from celery.worker import state as worker_state
from kombu import Connection

from picky.celery import StalledConsumerWatch


@pytest.fixture
def consumer():
    """A worker consumer's parts the watch reads, around a real kombu channel whose
    prefetch window holds one message."""
    with Connection("memory://") as connection:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=1)
        yield SimpleNamespace(
            task_consumer=SimpleNamespace(channel=channel),
            connection_errors=connection.connection_errors,
        )
        channel.close()


def lose_an_ack(channel):
    """A delivered message whose acknowledgement never reached the broker."""
    channel.qos.append(SimpleNamespace(delivery_tag="lost"), "lost")


def watch_for(consumer):
    return StalledConsumerWatch(consumer)


def test_a_full_window_without_tasks_raises_a_connection_error_on_the_second_check(consumer):
    lose_an_ack(consumer.task_consumer.channel)
    watch = watch_for(consumer)
    watch.check(consumer)  # once may be a moment between a task's end and its ack
    with pytest.raises(consumer.connection_errors):
        watch.check(consumer)


def test_a_window_with_room_or_a_task_in_hand_is_left_alone(consumer, monkeypatch):
    watch = watch_for(consumer)
    for _ in range(3):
        watch.check(consumer)  # room in the window
    lose_an_ack(consumer.task_consumer.channel)
    monkeypatch.setattr(worker_state, "active_requests", {"a task being run"})
    for _ in range(3):
        watch.check(consumer)  # the window is full of work in hand
