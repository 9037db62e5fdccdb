from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectors.models import Connector, Event, Run, RunLog, Step
from connectors.stats import connector_stats

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)


def make_run(connector, at, status, step_logs=()):
    """An event received at `at`, its run with `status`, and step log lines."""
    with time_machine.travel(at, tick=False):
        event = Event.objects.create(
            project=connector.project,
            connector=connector,
            payload={},
            method="POST",
            received_at=at,
            status=Event.Status.PROCESSED,
        )
        run = Run.objects.create(
            project=connector.project, connector=connector, event=event, status=status
        )
        for step, log_status in step_logs:
            RunLog.objects.create(
                run=run,
                kind=RunLog.Kind.STEP,
                step=step,
                step_position=step.position,
                status=log_status,
            )
    return run


@pytest.fixture
def steps(connector):
    return [
        Step.objects.create(connector=connector, position=0, name="Thank"),
        Step.objects.create(connector=connector, position=1, name=""),
    ]


@pytest.mark.django_db
class TestConnectorStats:
    def test_counts_per_window(self, connector, steps):
        thank, second = steps
        # Within 24 hours.
        make_run(
            connector,
            NOW - timedelta(hours=1),
            Run.Status.SUCCEEDED,
            [(thank, RunLog.Status.RAN), (second, RunLog.Status.SKIPPED)],
        )
        make_run(
            connector,
            NOW - timedelta(hours=23),
            Run.Status.FAILED,
            [(thank, RunLog.Status.FAILED)],
        )
        # Within 30 days but not 24 hours.
        make_run(
            connector,
            NOW - timedelta(days=3),
            Run.Status.STOPPED,
            [(thank, RunLog.Status.RAN), (second, RunLog.Status.STOPPED)],
        )
        make_run(
            connector,
            NOW - timedelta(days=29, hours=23),
            Run.Status.SUCCEEDED,
            [(thank, RunLog.Status.SKIPPED), (second, RunLog.Status.WAITING)],
        )
        # Too old for both windows, and in the future of `now`.
        make_run(connector, NOW - timedelta(days=31), Run.Status.SUCCEEDED, [(thank, "ran")])
        make_run(connector, NOW + timedelta(hours=1), Run.Status.SUCCEEDED, [(thank, "ran")])
        Event.objects.create(
            project=connector.project,
            connector=connector,
            method="POST",
            received_at=NOW - timedelta(hours=2),
            status=Event.Status.REJECTED,
            error="Malformed JSON",
        )

        stats = connector_stats(connector, now=NOW)

        day = stats["24h"]
        assert (day["events"], day["rejected"]) == (3, 1)
        assert (day["succeeded"], day["failed"], day["stopped"]) == (1, 1, 0)
        assert day["steps"] == [
            {"id": thank.id, "position": 0, "name": "Thank", "passed": 2, "skipped": 0},
            {"id": second.id, "position": 1, "name": "Step 2", "passed": 0, "skipped": 1},
        ]
        month = stats["30d"]
        assert (month["events"], month["rejected"]) == (5, 1)
        assert (month["succeeded"], month["failed"], month["stopped"]) == (2, 1, 1)
        assert [(s["passed"], s["skipped"]) for s in month["steps"]] == [(3, 1), (1, 1)]

    def test_defaults_to_the_current_time(self, connector, steps):
        make_run(connector, NOW - timedelta(hours=1), Run.Status.SUCCEEDED)
        with time_machine.travel(NOW, tick=False):
            assert connector_stats(connector)["24h"]["succeeded"] == 1
        with time_machine.travel(NOW + timedelta(days=2), tick=False):
            stats = connector_stats(connector)
        assert stats["24h"]["succeeded"] == 0
        assert stats["30d"]["succeeded"] == 1

    def test_other_connectors_are_not_counted(self, connector, steps):
        other = Connector.objects.create(project=connector.project, name="Other")
        make_run(other, NOW - timedelta(hours=1), Run.Status.FAILED)
        stats = connector_stats(connector, now=NOW)
        assert stats["24h"]["events"] == 0
        assert stats["30d"]["failed"] == 0

    def test_query_count_does_not_grow_with_rows(self, connector, steps):
        for hours in range(1, 30):
            make_run(
                connector,
                NOW - timedelta(hours=hours),
                Run.Status.SUCCEEDED,
                [(step, RunLog.Status.RAN) for step in steps],
            )
        with CaptureQueriesContext(connection) as queries:
            stats = connector_stats(connector, now=NOW)
        assert len(queries) == 4
        assert stats["30d"]["succeeded"] == 29
