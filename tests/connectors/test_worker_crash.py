"""A real worker killed in the middle of a run: the run is finished by another
worker after the lease runs out, and no effect happens twice."""

import pytest

from connectors import engine, services
from connectors.models import Counter, Run, RunLog
from tests.builders import build_connector
from tests.workers import purge_broker, requires_integration, running_worker, start_worker, wait_for

pytestmark = [pytest.mark.integration, requires_integration]

ITEMS = 1000


@pytest.mark.django_db(transaction=True)
def test_killed_worker_does_not_lose_or_repeat_a_run(project, settings):
    settings.PICKY_RUN_LEASE_SECONDS = 3
    purge_broker()
    connector = build_connector(
        project,
        steps=[
            {
                "iterator": {"path": "event.items", "max": ITEMS},
                # `seen` is read (save_as): the run commits right after each of its
                # increments, so it is killed with work committed and work not. The
                # `sku:` counters nothing reads wait for those commits.
                "actions": [("trigger_counter", {"name": "seen", "save_as": "seen"}),
                            ("trigger_counter", {"name": "sku:{{ item.sku }}"})],
            },
            {"actions": [("trigger_counter", {"name": "finished"})]},
        ],
    )  # fmt: skip
    payload = {"items": [{"sku": f"S{i % 4}"} for i in range(ITEMS)]}

    worker = start_worker(name="doomed")
    try:
        event = services.record_event(connector, payload, method="POST", headers={},
                                      source_ip=None)  # fmt: skip
        wait_for(
            lambda: Counter.objects.filter(name="seen", value__gte=10).exists(),
            message="the run to be half-way",
            interval=0.02,
        )
    finally:
        worker.kill()
    run = Run.objects.get(event=event)
    assert run.status == Run.Status.RUNNING
    seen_at_kill = Counter.objects.get(name="seen").value
    assert seen_at_kill < ITEMS

    with running_worker(name="rescuer"):

        def swept_and_done():
            engine.sweep_stuck()
            return Run.objects.get(pk=run.pk).status == Run.Status.SUCCEEDED

        wait_for(swept_and_done, timeout=90, interval=1, message="the run to be finished")

    run.refresh_from_db()
    assert run.attempts == 2
    counters = dict(Counter.objects.values_list("name", "value"))
    assert counters["seen"] == ITEMS
    assert sum(counters[f"sku:S{i}"] for i in range(4)) == ITEMS
    assert counters["finished"] == 1
    ran = RunLog.objects.filter(run=run, kind="action", status="ran")
    assert ran.count() == ITEMS * 2 + 1
