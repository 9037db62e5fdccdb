"""Duplicate deliveries: a repeated idempotency key is answered with the original
event and records nothing new; without a key every delivery is its own event."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from connectors import services
from connectors.models import Connector, Event
from tests.brokers import use_broker_for_publishing


def deliver(client, connector, body, **headers):
    return client.post(
        f"/hooks/{connector.token}", data=body, content_type="application/json", headers=headers
    )


@pytest.mark.django_db
class TestIdempotencyHeader:
    def test_repeated_key_answers_the_original_event(self, client, connector):
        first = deliver(client, connector, {"order": 1}, **{"X-Idempotency-Key": "order-1"})
        again = deliver(client, connector, {"order": 1}, **{"X-Idempotency-Key": "order-1"})

        assert first.status_code == again.status_code == 200
        assert first.json() == {"status": "accepted", "event": first.json()["event"]}
        assert again.json() == {
            "status": "accepted",
            "event": first.json()["event"],
            "duplicate": True,
        }
        event = Event.objects.get()
        assert str(event.pk) == first.json()["event"]
        assert event.idempotency_key == "order-1"

    def test_x_request_id_is_a_key_too(self, client, connector):
        first = deliver(client, connector, {"a": 1}, **{"X-Request-Id": "req-7"})
        again = deliver(client, connector, {"a": 1}, **{"X-Request-Id": "req-7"})
        assert again.json()["duplicate"] is True
        assert again.json()["event"] == first.json()["event"]
        assert Event.objects.count() == 1

    def test_idempotency_key_wins_over_request_id(self, client, connector):
        deliver(client, connector, {}, **{"X-Idempotency-Key": "k1", "X-Request-Id": "r1"})
        deliver(client, connector, {}, **{"X-Idempotency-Key": "k2", "X-Request-Id": "r1"})
        assert sorted(Event.objects.values_list("idempotency_key", flat=True)) == ["k1", "k2"]

    def test_without_a_key_two_deliveries_are_two_events(self, client, connector):
        first = deliver(client, connector, {"order": 1})
        again = deliver(client, connector, {"order": 1})
        assert first.json()["event"] != again.json()["event"]
        assert "duplicate" not in again.json()
        assert Event.objects.count() == 2

    def test_different_keys_are_different_events(self, client, connector):
        deliver(client, connector, {}, **{"X-Idempotency-Key": "a"})
        deliver(client, connector, {}, **{"X-Idempotency-Key": "b"})
        assert Event.objects.count() == 2

    def test_same_key_on_another_connector_is_not_a_duplicate(self, client, connector, project):
        other = Connector.objects.create(project=project, name="Orders")
        deliver(client, connector, {}, **{"X-Idempotency-Key": "shared"})
        response = deliver(client, other, {}, **{"X-Idempotency-Key": "shared"})
        assert "duplicate" not in response.json()
        assert Event.objects.filter(idempotency_key="shared").count() == 2

    def test_rejected_delivery_does_not_take_the_key(self, client, connector):
        bad = client.post(
            f"/hooks/{connector.token}",
            data="{oops",
            content_type="application/json",
            headers={"X-Idempotency-Key": "retry-me"},
        )
        assert bad.status_code == 400
        good = deliver(client, connector, {"ok": True}, **{"X-Idempotency-Key": "retry-me"})
        assert good.status_code == 200
        assert "duplicate" not in good.json()
        assert Event.objects.get(idempotency_key="retry-me").payload == {"ok": True}

    def test_blank_header_is_no_key(self, client, connector):
        deliver(client, connector, {}, **{"X-Idempotency-Key": "  "})
        deliver(client, connector, {}, **{"X-Idempotency-Key": "  "})
        assert list(Event.objects.values_list("idempotency_key", flat=True)) == ["", ""]

    def test_overlong_key_is_a_clear_400(self, client, connector):
        response = deliver(client, connector, {}, **{"X-Idempotency-Key": "k" * 256})
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_idempotency_key"
        assert response.json()["message"] == "The x-idempotency-key header is over 255 characters."
        assert Event.objects.get().status == Event.Status.REJECTED

    def test_headers_are_configurable(self, client, connector, settings):
        settings.PICKY_IDEMPOTENCY_HEADERS = ["x-shopify-webhook-id"]
        deliver(client, connector, {}, **{"X-Shopify-Webhook-Id": "w1", "X-Request-Id": "r"})
        again = deliver(client, connector, {}, **{"X-Shopify-Webhook-Id": "w1"})
        assert again.json()["duplicate"] is True
        deliver(client, connector, {}, **{"X-Request-Id": "r"})
        assert Event.objects.count() == 2

    def test_no_header_configured_turns_deduplication_off(self, client, connector, settings):
        settings.PICKY_IDEMPOTENCY_HEADERS = []
        deliver(client, connector, {}, **{"X-Idempotency-Key": "k"})
        deliver(client, connector, {}, **{"X-Idempotency-Key": "k"})
        assert Event.objects.count() == 2


@pytest.mark.django_db
def test_a_keyed_duplicate_inside_a_transaction_leaves_it_usable(connector):
    meta = {"method": "POST", "headers": {}, "source_ip": None}
    with transaction.atomic():
        original = services.record_event(connector, {"n": 1}, idempotency_key="k", **meta)
        with pytest.raises(services.DuplicateDelivery) as duplicate:
            services.record_event(connector, {"n": 1}, idempotency_key="k", **meta)
        assert duplicate.value.original == original
        # The transaction still works after the refused INSERT.
        assert Event.objects.count() == 1


@pytest.fixture
def in_memory_broker():
    """Autocommit enqueues at once: keep those messages in this process."""
    use_broker_for_publishing("memory://")
    yield
    use_broker_for_publishing(None)


@pytest.mark.django_db(transaction=True)
def test_the_key_costs_no_extra_query(client, project, in_memory_broker):
    """The key check is the unique constraint itself: no SELECT before the INSERT."""
    connector = Connector.objects.create(project=project, name="Leads", sample_payload={})
    with CaptureQueriesContext(connection) as unkeyed:
        deliver(client, connector, {"a": 1})
    with CaptureQueriesContext(connection) as keyed:
        deliver(client, connector, {"a": 1}, **{"X-Idempotency-Key": "k"})
    # The connector and the INSERT: one statement on PostgreSQL, two elsewhere.
    accepting = 1 if connection.vendor == "postgresql" else 2
    assert len(unkeyed) == len(keyed) == accepting
    with CaptureQueriesContext(connection) as duplicate:
        deliver(client, connector, {"a": 1}, **{"X-Idempotency-Key": "k"})
    assert len(duplicate) == accepting + 1  # and the original
