"""The tasks that execute runs live within Celery's time limits (picky/time_limits.py): a task of
several runs hands the runs past its window on, and the soft time limit stops the task, not
the run, which is taken over later as if its worker had died."""

import signal
from contextlib import contextmanager
from datetime import timedelta

import pytest
import time_machine
from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from connectors import engine, services
from connectors.models import Event, Run, RunLog
from connectors.tasks import RUN_TASK_TIME_LIMITS
from tests.builders import build_connector
from tests.picky.test_dispatch import drain_messages, in_memory_broker  # noqa: F401
from tests.raw_servers import RawServer


@pytest.fixture(autouse=True)
def allow_local(settings):
    settings.PICKY_OUTBOUND_ALLOWLIST = ["127.0.0.1"]


def ingest(connector, n):
    return services.record_event(connector, {"n": n}, method="POST", headers={}, source_ip=None)


@contextmanager
def soft_time_limit_in(seconds):
    """Celery's soft time limit, delivered to this process in `seconds` as a worker's pool
    delivers it: a signal whose handler raises SoftTimeLimitExceeded where the task is."""

    def raise_soft_time_limit(signum, frame):
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGALRM, raise_soft_time_limit)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_the_tasks_that_execute_runs_have_the_time_limits_of_the_settings(settings):
    assert RUN_TASK_TIME_LIMITS == {
        "soft_time_limit": settings.PICKY_RUN_TASK_SOFT_TIME_LIMIT,
        "time_limit": settings.PICKY_RUN_TASK_TIME_LIMIT,
    }


@pytest.mark.django_db(transaction=True)
def test_a_task_of_several_runs_hands_on_the_runs_past_its_window(
    project,
    settings,
    in_memory_broker,  # noqa: F811
):
    settings.PICKY_RUN_TASK_SOFT_TIME_LIMIT = 0.5  # a window of 0.1 s
    # An answer dripped over 0.4 s: the first run outlasts the window.
    with RawServer(drip_seconds=0.004) as server:
        connector = build_connector(
            project, steps=[{"actions": [("http_request", {"url": server.url("/slow")})]}]
        )
        events = [ingest(connector, n) for n in range(3)]
        drain_messages()  # the events' own publishing
        runs = engine.process_events([event.pk for event in events])
    assert runs[0].status == Run.Status.SUCCEEDED and runs[1:] == [None, None]
    assert drain_messages() == [("connectors.tasks.process_events", [[events[1].pk, events[2].pk]])]
    queued = Event.objects.filter(status=Event.Status.QUEUED)
    assert set(queued.values_list("pk", flat=True)) == {events[1].pk, events[2].pk}


@pytest.mark.django_db
def test_the_soft_time_limit_stops_the_task_and_the_run_is_taken_over_later(project):
    with RawServer(hold=True) as server:
        connector = build_connector(
            project,
            steps=[{"actions": [("http_request", {"url": server.url("/orders"), "timeout": 5})]}],
        )
        event = ingest(connector, 1)
        with soft_time_limit_in(0.5), pytest.raises(SoftTimeLimitExceeded):
            engine.process_event(event.pk)
        run = Run.objects.get(event=event)
        # Not failed by the task that ran out of time: left to the sweep, its request claimed.
        assert run.status == Run.Status.RUNNING
        claim = RunLog.objects.get(run=run, action_type="http_request")
        assert claim.status == RunLog.Status.SENDING

        # Its lease runs out; the stuck-run sweep hands it to another worker.
        with time_machine.travel(timezone.now() + timedelta(seconds=400)):
            engine.continue_run(run.pk)
    assert len(server.requests) == 1
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert "was sent but its answer was lost" in run.error
