"""The Redis transport that publishes through one client per channel (picky/broker.py)."""

import pytest
import redis
from kombu import Connection

from picky.broker import Transport

# A database of the machine's Redis that no other test uses.
URL = "redis://127.0.0.1:6379/12"
QUEUE = "picky-broker-test"


@pytest.fixture
def connection():
    try:
        redis.Redis.from_url(URL).ping()
    except redis.ConnectionError:
        pytest.skip("needs Redis at 127.0.0.1:6379 (.ci/run starts it)")
    with Connection(URL, transport=Transport) as connection:
        queue = connection.SimpleQueue(QUEUE)
        queue.clear()
        yield connection
        queue.clear()
        queue.close()


def test_messages_published_through_the_shared_client_arrive_in_order(connection):
    queue = connection.SimpleQueue(QUEUE)
    for n in range(3):
        queue.put({"n": n})
    assert queue.qsize() == 3
    received = []
    for _ in range(3):
        message = queue.get(timeout=1)
        received.append(message.payload["n"])
        message.ack()
    assert received == [0, 1, 2]


def test_a_channel_publishes_through_one_client_until_its_pool_is_replaced(connection):
    channel = connection.default_channel
    with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
        assert first is second and first.connection_pool is channel.pool
    channel._pool = None  # as after a reconnection
    with channel.conn_or_acquire() as third:
        assert third is not first and third.connection_pool is channel.pool
        assert third.ping()
    given = object()
    with channel.conn_or_acquire(given) as client:
        assert client is given


def test_the_celery_app_publishes_to_redis_urls_with_this_transport():
    from picky.celery import app

    with app.connection_for_write(URL) as connection:
        assert connection.transport_cls == "redis"
        assert type(connection.transport) is Transport
    with app.connection_for_write("memory://") as connection:
        assert type(connection.transport) is not Transport
