"""What a run costs the database: found by the engine benchmark (bench/engine.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectors import engine, services
from connectors.models import Run
from tests.builders import build_connector


@pytest.mark.django_db
def test_a_run_does_not_read_its_connectors_sample(project):
    """The sample may be a megabyte of JSON; no run needs it, first run or retried."""
    connector = build_connector(
        project,
        steps=[{"actions": [("set_variable", {"name": "a", "value": "{{ event.n }}"})]}],
        sample_payload={"lines": ["x" * 1000] * 500},
        mapped_paths=["event.lines"],
    )
    event = services.record_event(connector, {"n": 1}, method="POST", headers={}, source_ip=None)
    with CaptureQueriesContext(connection) as first:
        engine.process_event(event.pk)
    run = Run.objects.get(event=event)
    assert run.status == Run.Status.SUCCEEDED
    Run.objects.filter(pk=run.pk).update(status=Run.Status.QUEUED)
    with CaptureQueriesContext(connection) as again:
        engine.continue_run(run.pk)
    for query in first.captured_queries + again.captured_queries:
        assert "sample_payload" not in query["sql"]
        assert "mapped_paths" not in query["sql"]
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
    assert run.context["vars"] == {"a": 1}
