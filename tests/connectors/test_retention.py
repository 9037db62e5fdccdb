from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from connectors import engine, retention, services
from connectors.models import Event, Run
from tests.builders import build_connector


def ingest(connector, payload=None):
    event = services.record_event(
        connector, payload or {}, method="POST", headers={}, source_ip=None
    )
    engine.process_event(event.pk)
    return event


@pytest.mark.django_db
def test_old_events_and_runs_are_pruned_but_waiting_runs_are_kept(project):
    project.retention_days = 30
    project.save()
    connector = build_connector(project, steps=[{"actions": [("set_variable",
                                {"name": "a", "value": "1"})]}])  # fmt: skip
    start = timezone.now()
    with time_machine.travel(start - timedelta(days=40), tick=False):
        old = ingest(connector)
        waiting = ingest(connector, {"keep": True})
        Run.objects.filter(event=waiting).update(status=Run.Status.WAITING)
    with time_machine.travel(start - timedelta(days=10), tick=False):
        recent = ingest(connector)

    deleted = retention.prune_expired(now=start, batch=1)

    assert deleted == 1
    assert not Event.objects.filter(pk=old.pk).exists()
    assert not Run.objects.filter(event_id=old.pk).exists()
    kept = Event.objects.get(pk=waiting.pk)
    assert kept.payload == {"keep": True}
    assert Event.objects.filter(pk=recent.pk).exists()


@pytest.mark.django_db
def test_sweep_re_enqueues_stale_queued_events_and_runs(project, settings):
    from picky.celery import app

    settings.PICKY_RUN_LEASE_SECONDS = 60
    connector = build_connector(project, steps=[{"actions": [("set_variable",
                                {"name": "a", "value": "1"})]}])  # fmt: skip
    start = timezone.now()
    with time_machine.travel(start - timedelta(minutes=5), tick=False):
        # The broker was down: the event was kept but never processed.
        event = services.record_event(connector, {}, method="POST", headers={}, source_ip=None)
        # A worker died in the middle of a replay.
        stuck_run = engine.replay_event(ingest(connector))
        Run.objects.filter(pk=stuck_run.pk).update(status=Run.Status.RUNNING)
    app.conf.task_always_eager = True
    try:
        with time_machine.travel(start, tick=False):
            assert engine.sweep_stuck() == (1, 1)
    finally:
        app.conf.task_always_eager = False
    event.refresh_from_db()
    assert event.status == Event.Status.PROCESSED
    assert Run.objects.get(pk=stuck_run.pk).status == Run.Status.SUCCEEDED
    assert Run.objects.filter(event=event).count() == 1
