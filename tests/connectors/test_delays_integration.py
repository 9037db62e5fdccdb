"""Delays with real workers: PostgreSQL, Redis and Celery worker processes.

Two workers and two concurrent sweeps fire each of a few thousand due delays
exactly once; a worker killed while resuming a delayed run does not lose it.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from connectors import delays, engine
from connectors.models import Counter, Event, Run, RunLog, ScheduledStep
from tests.builders import build_connector
from tests.workers import purge_broker, requires_integration, running_worker, start_worker, wait_for

pytestmark = [pytest.mark.integration, requires_integration]

DUE_ROWS = 2000


def park_many(connector, count, due_at):
    """`count` runs parked on the connector's first step, as the engine leaves them."""
    step = connector.steps.get(position=0)
    now = timezone.now()
    events = Event.objects.bulk_create(
        Event(
            project_id=connector.project_id,
            connector=connector,
            payload={"n": n},
            method="POST",
            received_at=now,
            status=Event.Status.PROCESSED,
        )
        for n in range(count)
    )
    runs = Run.objects.bulk_create(
        Run(
            project_id=connector.project_id,
            connector=connector,
            event=event,
            status=Run.Status.WAITING,
            next_step=0,
            context={"vars": {}},
        )
        for event in events
    )
    ScheduledStep.objects.bulk_create(
        ScheduledStep(
            project_id=connector.project_id,
            connector=connector,
            run=run,
            step=step,
            due_at=due_at,
            identifier=f"order-{run.event.payload['n']}",
        )
        for run in runs
    )
    return runs


@pytest.mark.django_db(transaction=True)
def test_two_workers_and_two_sweeps_fire_each_due_delay_once(project):
    purge_broker()
    connector = build_connector(
        project,
        steps=[
            {
                "delay": {"mode": "fixed", "amount": 1, "unit": "hours"},
                "actions": [("trigger_counter", {"name": "fired"})],
            }
        ],
    )
    runs = park_many(connector, DUE_ROWS, timezone.now() - timedelta(minutes=1))
    later = park_many(connector, 50, timezone.now() + timedelta(days=1))

    claimed = {}
    start = threading.Barrier(2)

    def sweeper(name):
        try:
            start.wait()
            total = 0
            while True:
                settled = delays.sweep_due_delays(batch_size=100, max_batches=1)
                if not settled:
                    break
                total += settled
            claimed[name] = total
        finally:
            connection.close()

    with running_worker(name="delays-a"), running_worker(name="delays-b"):
        threads = [threading.Thread(target=sweeper, args=(name,)) for name in ("s1", "s2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_for(
            lambda: Run.objects.filter(status=Run.Status.SUCCEEDED).count() == DUE_ROWS,
            timeout=240,
            interval=1,
            message=f"{DUE_ROWS} resumed runs to finish",
        )

    assert sum(claimed.values()) == DUE_ROWS
    assert min(claimed.values()) > 0, claimed  # both sweeps took a share
    assert Counter.objects.get(name="fired").value == DUE_ROWS
    per_run = (
        RunLog.objects.filter(kind="action", status="ran")
        .values("run_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    assert {row["run_id"] for row in per_run} == {run.pk for run in runs}
    assert {row["n"] for row in per_run} == {1}
    assert ScheduledStep.objects.filter(status="fired").count() == DUE_ROWS
    assert set(ScheduledStep.objects.filter(run__in=later).values_list("status", flat=True)) == {
        "pending"
    }
    assert not Run.objects.filter(pk__in=[r.pk for r in later]).exclude(status="waiting")


ITEMS = 400


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_resuming_does_not_lose_the_run(project, settings):
    settings.PICKY_RUN_LEASE_SECONDS = 3
    purge_broker()
    connector = build_connector(
        project,
        steps=[
            {
                "delay": {"mode": "fixed", "amount": 2, "unit": "days"},
                "iterator": {"path": "event.items", "max": ITEMS},
                "actions": [("trigger_counter", {"name": "seen"})],
            },
            {"actions": [("trigger_counter", {"name": "finished"})]},
        ],
    )
    [run] = park_many(connector, 1, timezone.now() - timedelta(seconds=1))
    Event.objects.filter(pk=run.event_id).update(payload={"items": list(range(ITEMS))})

    # Committing after every action, so that the run is seen half-way.
    worker = start_worker(name="delays-doomed", env={"PICKY_RUN_TRANSACTION_SECONDS": "0"})
    try:
        assert delays.sweep_due_delays() == 1
        wait_for(
            lambda: Counter.objects.filter(name="seen", value__gte=20).exists(),
            message="the resumed run to be half-way",
            interval=0.02,
        )
    finally:
        worker.kill()
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING
    assert Counter.objects.get(name="seen").value < ITEMS

    with running_worker(name="delays-rescuer"):

        def swept_and_done():
            engine.sweep_stuck()
            return Run.objects.get(pk=run.pk).status == Run.Status.SUCCEEDED

        wait_for(swept_and_done, timeout=90, interval=1, message="the run to be finished")

    run.refresh_from_db()
    assert run.attempts == 2
    counters = dict(Counter.objects.values_list("name", "value"))
    assert counters == {"seen": ITEMS, "finished": 1}
    # The delay was not consulted again: one row, fired, and no second wait.
    assert list(ScheduledStep.objects.filter(run=run).values_list("status", flat=True)) == ["fired"]
    assert not RunLog.objects.filter(run=run, status="waiting").exists()
