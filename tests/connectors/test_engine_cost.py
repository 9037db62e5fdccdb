"""What a run costs the database: found by the engine benchmark (bench/engine.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectors import engine, services
from connectors.models import Run
from tests.builders import build_connector
from tests.queries import statements


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


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the statements of PostgreSQL")
def test_a_new_leads_first_run_makes_at_most_twelve_statements(project):
    """The benchmark's target is 12 statements a run whatever the history: the costliest run
    is a worker's first of a connector (its steps loaded) for a new lead, whose contact,
    tags and counter are all new."""
    connector = build_connector(
        project,
        field_mapping={"number": "{{ event.phone }}", "name": "{{ event.name }}"},
        steps=[
            {"actions": [("set_variable", {"name": "campaign", "value": "{{ event.campaign }}"})]},
            {"actions": [("trigger_counter", {"name": "leads"})]},
            {"actions": [("add_tag", {"tags": ["lead", "{{ vars.campaign }}"]})]},
        ],
    )
    payload = {"phone": "+91 98470 12345", "name": "Asha", "campaign": "diwali"}
    event = services.record_event(connector, payload, method="POST", headers={}, source_ip=None)
    with CaptureQueriesContext(connection) as queries:
        engine.process_events([event.pk])
    run_statements = statements(queries)
    assert Run.objects.get(event=event).status == Run.Status.SUCCEEDED
    assert sorted(Run.objects.get(event=event).contact.tags.values_list("name", flat=True)) == [
        "diwali",
        "lead",
    ]
    assert len(run_statements) <= 12, "\n".join(run_statements)
