"""An outside effect happens at most once, even when its run is taken over while the effect is
under way: the effect is claimed in the database before it starts, and a run taken over that
finds the claim never starts it again (connectors/engine/claims.py)."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone

from actions.models import Action
from connectors import engine, services
from connectors.models import Event, Run, RunLog
from tests.builders import build_connector
from tests.raw_servers import RawServer

LOST = (
    "The request to 127.0.0.1 was sent but its answer was lost (the worker stopped); "
    "it was not sent again."
)


@pytest.fixture(autouse=True)
def allow_local(settings):
    settings.PICKY_OUTBOUND_ALLOWLIST = ["127.0.0.1"]


def ingest(connector, payload):
    return services.record_event(
        connector, payload, method="POST", headers={}, source_ip="127.0.0.1"
    )


def in_a_worker_thread(target, *args):
    """Run `target` as a worker would, in a thread with its own database connection."""
    errors = []

    def work():
        try:
            target(*args)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, errors


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "fallback, run_status", [("stop", Run.Status.FAILED), ("continue", Run.Status.SUCCEEDED)]
)
def test_a_run_taken_over_while_its_request_is_in_flight_never_sends_it_again(
    project, fallback, run_status
):
    with RawServer(hold=True) as server:
        connector = build_connector(
            project,
            steps=[
                {
                    "actions": [
                        ("http_request", {"url": server.url("/orders"), "method": "POST",
                                          "timeout": 5, "fallback": fallback}),
                        ("set_variable", {"name": "after", "value": "went on"}),
                    ]
                }
            ],
        )  # fmt: skip
        event = ingest(connector, {"order": 7})
        first, errors = in_a_worker_thread(engine.process_event, event.pk)
        assert server.wait_for_requests(1), "the first worker did not send the request"
        run = Run.objects.get(event=event)
        claim = RunLog.objects.get(run=run, action_type="http_request")
        assert claim.status == RunLog.Status.SENDING

        # The first worker is presumed dead (its lease ran out): the sweep hands the run to
        # another, after the claimed request's outcome was due.
        Run.objects.filter(pk=run.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        with time_machine.travel(timezone.now() + timedelta(seconds=60)):
            engine.continue_run(run.pk)

        # The first worker was only slow: its answer comes, too late to count.
        server.release.set()
        first.join(10)
    assert not errors, errors
    assert len(server.requests) == 1
    run.refresh_from_db()
    assert (run.status, run.attempts) == (run_status, 2)
    claim.refresh_from_db()
    assert (claim.status, claim.error, claim.outputs) == (
        RunLog.Status.FAILED,
        LOST,
        {"outcome": "unknown"},
    )
    assert RunLog.objects.filter(run=run, action_type="http_request").count() == 1
    went_on = RunLog.objects.filter(run=run, action_type="set_variable").exists()
    assert went_on == (fallback == "continue")
    if fallback == "stop":
        assert run.error == LOST


def claimed_by_a_dead_worker(project, action_type, config):
    """A run whose first attempt claimed `action_type`'s effect and died before its outcome
    (its lease ran out), as the stuck-run sweep finds it."""
    connector = build_connector(project, steps=[{"actions": [(action_type, config)]}])
    event = ingest(connector, {"order": 7})
    Event.objects.filter(pk=event.pk).update(status=Event.Status.PROCESSED)
    started = timezone.now() - timedelta(minutes=10)
    run = Run.objects.create(
        project=project,
        connector=connector,
        event=event,
        status=Run.Status.RUNNING,
        started_at=started,
        lease_until=started,
        attempts=1,
    )
    action = Action.objects.get(step__connector=connector)
    RunLog.objects.create(
        run=run,
        kind=RunLog.Kind.ACTION,
        step=action.step,
        action=action,
        action_type=action_type,
        status=RunLog.Status.SENDING,
        inputs=config,
        outputs={engine.OUTCOME_DUE: (started + timedelta(seconds=30)).isoformat()},
    )
    return run


@pytest.mark.django_db
def test_an_email_claimed_by_a_dead_worker_is_not_sent_again(project):
    config = {"to": ["lead@example.com"], "subject": "Welcome", "body": "Hello"}
    run = claimed_by_a_dead_worker(project, "send_email", config)
    engine.continue_run(run.pk)
    assert mail.outbox == []
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert run.error == (
        "Send Email was started but its outcome was lost (the worker stopped); "
        "it was not started again."
    )


@pytest.mark.django_db
def test_a_route_claimed_by_a_dead_worker_is_not_routed_again(project):
    target = build_connector(project, name="Orders")
    run = claimed_by_a_dead_worker(project, "route_connector", {"connector": "Orders"})
    engine.continue_run(run.pk)
    assert not Event.objects.filter(connector=target).exists()
    line = RunLog.objects.get(run=run, action_type="route_connector")
    assert (line.status, line.outputs) == (RunLog.Status.FAILED, {"outcome": "unknown"})


@pytest.mark.django_db
def test_an_outcome_the_earlier_attempt_recorded_is_used_not_sent_again(project):
    with RawServer() as server:
        config = {"url": server.url("/orders"), "save_as": "crm"}
        run = claimed_by_a_dead_worker(project, "http_request", config)
        RunLog.objects.filter(run=run).update(status=RunLog.Status.RAN, outputs={"status": 200})
        engine.continue_run(run.pk)
    assert server.requests == []
    run.refresh_from_db()
    assert (run.status, run.context["vars"]["crm"]) == (Run.Status.SUCCEEDED, {"status": 200})


@pytest.mark.django_db
def test_a_claim_settles_into_the_request_s_outcome(project):
    with RawServer() as server:
        connector = build_connector(
            project, steps=[{"actions": [("http_request", {"url": server.url("/orders")})]}]
        )
        event = ingest(connector, {"order": 7})
        engine.process_event(event.pk)
    line = RunLog.objects.get(run__event=event, action_type="http_request")
    assert line.status == RunLog.Status.RAN
    assert line.outputs["response"] == {"ok": True}
    assert len(server.requests) == 1
