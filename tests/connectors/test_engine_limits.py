"""What one tenant's connector may cost a worker: a run's time is bounded
(PICKY_RUN_TIME_LIMIT_SECONDS), and a user's pattern cannot hold it (RE2)."""

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from werkzeug import Response

from connectors import delays, engine, services
from connectors.models import Run, RunLog
from tests.builders import build_connector

pytestmark = pytest.mark.django_db

# A request to the slow server takes this long; the run may take a little more than two.
SLOW_ANSWER_SECONDS = 0.6
TIME_LIMIT_SECONDS = 1.0
STOPPED = (
    r"The run was stopped after \d+\.\d s: runs may take at most 1 s "
    r"\(PICKY_RUN_TIME_LIMIT_SECONDS\)\."
)


@pytest.fixture
def slow_server(settings, httpserver):
    settings.PICKY_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    settings.PICKY_RUN_TIME_LIMIT_SECONDS = TIME_LIMIT_SECONDS

    def answer_slowly(request):
        time.sleep(SLOW_ANSWER_SECONDS)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/slow").respond_with_handler(answer_slowly)
    return httpserver


def slow_call(server):
    url = server.url_for("/slow").replace("localhost", "127.0.0.1")
    return ("http_request", {"method": "GET", "url": url, "timeout": 5})


def run_payload(connector, payload):
    event = services.record_event(
        connector, payload, method="POST", headers={}, source_ip="127.0.0.1"
    )
    engine.process_event(event.pk)
    return Run.objects.get(event=event, replay_of=None)


def test_a_run_that_takes_too_long_fails_with_a_clear_message(project, slow_server):
    connector = build_connector(
        project,
        steps=[
            {"iterator": {"path": "event.items"}, "actions": [slow_call(slow_server)]},
            {"actions": [("set_variable", {"name": "reached", "value": "yes"})]},
        ],
    )
    run = run_payload(connector, {"items": list(range(8))})

    assert run.status == Run.Status.FAILED
    assert re.fullmatch(STOPPED, run.error), run.error
    # Stopped before the third call at the latest: the check comes before each action.
    assert 1 <= len(slow_server.log) <= 2
    step_log = RunLog.objects.get(run=run, kind="step")
    assert (step_log.status, step_log.error) == (RunLog.Status.FAILED, run.error)
    assert "reached" not in run.context["vars"]


def test_a_delayed_run_counts_the_time_of_each_execution_not_since_the_event(project, settings):
    settings.PICKY_RUN_TIME_LIMIT_SECONDS = TIME_LIMIT_SECONDS
    connector = build_connector(
        project,
        steps=[
            {"actions": [("set_variable", {"name": "first", "value": "yes"})]},
            {
                "delay": {"mode": "fixed", "amount": 1, "unit": "hours"},
                "actions": [("set_variable", {"name": "second", "value": "yes"})],
            },
        ],
    )
    with time_machine.travel(datetime(2026, 3, 2, 8, 0, tzinfo=UTC)) as clock:
        run = run_payload(connector, {})
        assert run.status == Run.Status.WAITING
        clock.shift(timedelta(hours=1, seconds=1))
        delays.sweep_due_delays()
        engine.continue_run(run.pk)

    run.refresh_from_db()
    # An hour since the event, far over the limit; each execution well within it.
    assert (run.status, run.error) == (Run.Status.SUCCEEDED, "")
    assert run.context["vars"] == {"first": "yes", "second": "yes"}


def test_a_pattern_saved_before_re2_skips_its_step_and_the_log_says_why(project):
    connector = build_connector(
        project,
        steps=[
            {
                "name": "Only .com",
                "filters": [
                    [{"field": "{{ event.email }}", "op": "matches_regex", "value": r"(?<=\.)com$"}]
                ],
                "actions": [("set_variable", {"name": "matched", "value": "yes"})],
            },
            {"actions": [("set_variable", {"name": "after", "value": "yes"})]},
        ],
    )
    run = run_payload(connector, {"email": "asha@example.com"})

    assert run.status == Run.Status.SUCCEEDED
    assert run.context["vars"] == {"after": "yes"}
    skipped = RunLog.objects.get(run=run, kind="step", step_position=0)
    assert skipped.status == RunLog.Status.SKIPPED
    assert skipped.error.startswith(
        "filters[0][0].value: This pattern uses a look-behind ((?<=...)), which Picky does "
        "not support"
    )


def test_a_catastrophic_pattern_does_not_hold_the_worker(project):
    connector = build_connector(
        project,
        steps=[
            {
                "filters": [
                    [{"field": "{{ event.text }}", "op": "matches_regex", "value": "(a+)+$"}]
                ],
                "actions": [("set_variable", {"name": "matched", "value": "yes"})],
            }
        ],
    )
    started = time.perf_counter()
    run = run_payload(connector, {"text": "a" * 28 + "!"})
    assert time.perf_counter() - started < 1.0  # Python's re took 22 s
    assert run.status == Run.Status.SUCCEEDED
    assert RunLog.objects.get(run=run, kind="step").status == RunLog.Status.SKIPPED
