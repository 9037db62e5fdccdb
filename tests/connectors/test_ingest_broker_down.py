"""The event is committed before the 200: a broker outage loses nothing."""

import pytest

from connectors.models import Event
from picky.celery import app


def reset_connections():
    # Celery caches both a connection pool and a producer pool built on it.
    app.pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def dead_broker():
    saved = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    reset_connections()
    yield
    app.conf.broker_url = saved
    reset_connections()


@pytest.mark.django_db(transaction=True)
def test_ingest_answers_200_and_keeps_the_event_queued_when_the_broker_is_down(
    client, connector, dead_broker, caplog
):
    response = client.post(
        f"/hooks/{connector.token}", data={"name": "Asha"}, content_type="application/json"
    )
    assert response.status_code == 200
    event = Event.objects.get(pk=int(response.json()["event"]))
    assert event.status == Event.Status.QUEUED
    assert event.payload == {"name": "Asha"}
    assert f"event {event.pk} stays queued for the sweep" in caplog.text
