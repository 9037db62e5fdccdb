"""What one webhook costs the database: found by the ingest benchmark (bench/ingest.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectors.models import Connector, Event


@pytest.mark.django_db
def test_the_sample_is_not_read_on_every_request(client, project):
    """A connector's sample may be a megabyte; the ingest only asks whether it exists."""
    sample = {"order": {"lines": [{"sku": f"S{i}", "note": "x" * 500} for i in range(200)]}}
    connector = Connector.objects.create(
        project=project, name="Orders", sample_payload=sample, mapped_paths=["event.order"]
    )
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            f"/hooks/{connector.token}", data={"id": 1}, content_type="application/json"
        )
    assert response.status_code == 200
    lookup = queries.captured_queries[0]["sql"].replace('"', "")
    assert lookup.count("sample_payload") == 1
    assert "sample_payload IS NOT NULL" in lookup
    assert "mapped_paths" not in lookup
    connector.refresh_from_db()
    assert connector.sample_payload == sample  # kept, not replaced by the new payload


@pytest.mark.django_db
def test_the_first_payload_still_becomes_the_sample(client, connector):
    client.post(f"/hooks/{connector.token}", data={"a": 1}, content_type="application/json")
    client.post(f"/hooks/{connector.token}", data={"b": 2}, content_type="application/json")
    connector.refresh_from_db()
    assert connector.sample_payload == {"a": 1}
    assert connector.mapped_paths == ["event.a"]
    assert Event.objects.count() == 2
