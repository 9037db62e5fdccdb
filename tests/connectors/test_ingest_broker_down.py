"""The event is committed before the 200: a broker outage loses nothing."""

import pytest

from connectors.models import Event
from picky import dispatch
from tests.brokers import use_broker_for_publishing


@pytest.fixture
def dead_broker():
    use_broker_for_publishing("redis://127.0.0.1:9/0")  # nothing listens on the discard port
    yield
    use_broker_for_publishing(None)


@pytest.mark.django_db(transaction=True)
def test_ingest_answers_200_and_keeps_the_event_queued_when_the_broker_is_down(
    client, connector, dead_broker, caplog
):
    events = []
    for name in ("Asha", "Bala"):
        response = client.post(
            f"/hooks/{connector.token}", data={"name": name}, content_type="application/json"
        )
        assert response.status_code == 200
        events.append(Event.objects.get(pk=int(response.json()["event"])))
    assert [e.status for e in events] == [Event.Status.QUEUED] * 2
    assert [e.payload for e in events] == [{"name": "Asha"}, {"name": "Bala"}]
    # One failed publish, then the process leaves new work to the sweep for a while.
    assert caplog.text.count("Broker unavailable") == 1
    assert f"process_event({events[0].pk},) is left to the sweep" in caplog.text


def test_publishing_resumes_after_the_pause(settings):
    settings.PICKY_BROKER_RETRY_SECONDS = 0

    class Task:
        name = "demo"
        calls = 0

        def apply_async(self, args, retry, **options):
            Task.calls += 1
            if Task.calls == 1:
                raise ConnectionError("down")

    dispatch.reset()
    assert dispatch.enqueue(Task(), 1) is False
    assert dispatch.enqueue(Task(), 2) is True
