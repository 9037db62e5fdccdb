"""Delays end to end: parking, the sweep, resuming, cancelling, with a movable clock."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.test import override_settings

from connectors import delays, engine, services, tasks
from connectors.models import Run, RunLog, ScheduledStep, Step
from crm.models import Contact
from picky.models import Project
from picky.schedules import ensure_system_schedules
from tests.builders import build_connector

KOLKATA = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")


def ingest(connector, payload):
    event = services.record_event(
        connector, payload, method="POST", headers={}, source_ip="127.0.0.1"
    )
    engine.process_event(event.pk)
    return Run.objects.get(event=event, replay_of=None)


def sweep():
    """One beat tick: fire due delays, then let a worker take the queued runs."""
    settled = delays.sweep_due_delays()
    for run_id in Run.objects.filter(status=Run.Status.QUEUED).values_list("pk", flat=True):
        engine.continue_run(run_id)
    return settled


def email(subject):
    return ("send_email", {"to": ["{{ event.email }}"], "subject": subject, "body": "-"})


def subjects():
    return [(message.to[0], message.subject) for message in mail.outbox]


def webinar_connectors(project):
    def reminder(name, offset, unit, subject):
        return {
            "name": name,
            "delay": {
                "mode": "relative",
                "field": "{{ event.webinar.start }}",
                "offset": offset,
                "unit": unit,
                "identifier": "{{ event.meeting_id }}",
                "if_past": "skip",
            },
            "actions": [email(subject + " {{ event.meeting_id }}")],
        }

    webinar = build_connector(
        project,
        name="Webinar",
        steps=[
            {"name": "Confirm", "actions": [email("Registered {{ event.meeting_id }}")]},
            reminder("2 days before", -2, "days", "In 2 days"),
            reminder("5 hours before", -5, "hours", "In 5 hours"),
            reminder("30 minutes before", -30, "minutes", "In 30 minutes"),
            reminder("1 day after", 1, "days", "Thanks for coming"),
        ],
    )
    cancelled = build_connector(
        project,
        name="Webinar cancelled",
        steps=[
            {
                "actions": [
                    (
                        "cancel_delay",
                        {"targets": [{"connector": "Webinar", "identifier": "{{ event.id }}"}]},
                    ),
                    email("Cancelled {{ event.id }}"),
                ]
            }
        ],
    )
    return webinar, cancelled


def at(*args):
    return datetime(*args, tzinfo=KOLKATA)


@pytest.mark.django_db
def test_webinar_reminders_fire_once_each_and_a_cancel_stops_the_rest(project):
    webinar, cancelled = webinar_connectors(project)
    start = "2025-03-20 18:00"  # naive: the project's zone, Asia/Kolkata
    with time_machine.travel(at(2025, 3, 10, 12, 0), tick=False) as clock:
        asha = ingest(
            webinar,
            {"email": "asha@x.in", "meeting_id": "M-1", "webinar": {"start": start}},
        )
        bala = ingest(
            webinar,
            {"email": "bala@x.in", "meeting_id": "M-2", "webinar": {"start": start}},
        )
        assert asha.status == bala.status == Run.Status.WAITING
        assert subjects() == [("asha@x.in", "Registered M-1"), ("bala@x.in", "Registered M-2")]
        parked = ScheduledStep.objects.get(run=asha)
        assert parked.due_at == at(2025, 3, 18, 18, 0)
        assert (parked.identifier, parked.step.name) == ("M-1", "2 days before")
        waiting_log = RunLog.objects.get(run=asha, kind="step", status="waiting")
        assert waiting_log.inputs["due_at"] == "2025-03-18T12:30:00+00:00"
        mail.outbox.clear()

        clock.move_to(at(2025, 3, 18, 17, 59, 59))
        assert sweep() == 0
        assert subjects() == []

        clock.move_to(at(2025, 3, 18, 18, 0))
        assert sweep() == 2
        assert sorted(subjects()) == [
            ("asha@x.in", "In 2 days M-1"),
            ("bala@x.in", "In 2 days M-2"),
        ]
        assert sweep() == 0
        assert len(mail.outbox) == 2
        mail.outbox.clear()
        asha.refresh_from_db()
        assert asha.status == Run.Status.WAITING
        assert ScheduledStep.objects.get(run=asha, status="pending").due_at == at(2025, 3, 20, 13)

        # The meeting M-1 is cancelled: its remaining reminders go, M-2's stay.
        cancel_run = ingest(cancelled, {"id": "M-1", "email": "ops@x.in"})
        assert cancel_run.status == Run.Status.SUCCEEDED
        outputs = RunLog.objects.get(run=cancel_run, action_type="cancel_delay").outputs
        assert outputs["cancelled"] == 1
        assert outputs["targets"] == [{"connector": "Webinar", "identifier": "M-1", "count": 1}]
        asha.refresh_from_db()
        assert asha.status == Run.Status.STOPPED
        assert "Cancel Delay" in asha.error
        assert RunLog.objects.filter(run=asha, status="stopped", step__name="5 hours before")
        mail.outbox.clear()

        for moment, expected in [
            (at(2025, 3, 20, 13, 0), "In 5 hours M-2"),
            (at(2025, 3, 20, 17, 30), "In 30 minutes M-2"),
            (at(2025, 3, 21, 18, 0), "Thanks for coming M-2"),
        ]:
            clock.move_to(moment - timedelta(seconds=1))
            assert sweep() == 0
            clock.move_to(moment)
            assert sweep() == 1
            assert subjects() == [("bala@x.in", expected)]
            mail.outbox.clear()

        bala.refresh_from_db()
        assert bala.status == Run.Status.SUCCEEDED
        assert list(
            ScheduledStep.objects.filter(run=bala)
            .order_by()
            .values_list("status", flat=True)
            .distinct()
        ) == ["fired"]
        assert list(
            ScheduledStep.objects.filter(run=asha)
            .order_by("due_at")
            .values_list("status", flat=True)
        ) == ["fired", "cancelled"]
        clock.move_to(at(2025, 4, 1))
        assert sweep() == 0
        assert mail.outbox == []


@pytest.mark.django_db
def test_a_late_registration_skips_the_passed_reminders(project):
    webinar, _ = webinar_connectors(project)
    with time_machine.travel(at(2025, 3, 20, 14, 0), tick=False):
        run = ingest(
            webinar,
            {"email": "c@x.in", "meeting_id": "M-3", "webinar": {"start": "2025-03-20 18:00"}},
        )
    assert run.status == Run.Status.WAITING
    assert ScheduledStep.objects.get(run=run).step.name == "30 minutes before"
    statuses = list(
        RunLog.objects.filter(run=run, kind="step").order_by("id").values_list("status", flat=True)
    )
    assert statuses == ["ran", "skipped", "skipped", "waiting"]


@pytest.mark.django_db
def test_dst_in_the_project_zone(db):
    project = Project.objects.create(name="NY", slug="ny", time_zone="America/New_York")
    connector = build_connector(
        project,
        steps=[
            {
                "delay": {
                    "mode": "relative",
                    "field": "{{ event.start }}",
                    "offset": -1,
                    "unit": "days",
                    "at": "09:00",
                },
                "actions": [email("Tomorrow")],
            }
        ],
    )
    # Monday 10 March 10:00 EDT; the day before at 09:00 is Sunday 9 March, after the jump.
    with time_machine.travel(datetime(2025, 3, 7, tzinfo=UTC), tick=False) as clock:
        run = ingest(connector, {"email": "n@y.us", "start": "2025-03-10 10:00"})
        assert ScheduledStep.objects.get(run=run).due_at == datetime(2025, 3, 9, 13, tzinfo=UTC)
        clock.move_to(datetime(2025, 3, 9, 8, 59, tzinfo=NEW_YORK))
        assert sweep() == 0
        clock.move_to(datetime(2025, 3, 9, 9, 0, tzinfo=NEW_YORK))
        assert sweep() == 1
    assert subjects() == [("n@y.us", "Tomorrow")]


@pytest.mark.django_db
def test_filters_are_evaluated_when_the_delay_fires(project):
    connector = build_connector(
        project,
        field_mapping={"number": "{{ event.phone }}", "attributes": {"plan": "{{ event.plan }}"}},
        steps=[
            {
                "delay": {"mode": "fixed", "amount": 3, "unit": "days"},
                "filters": [
                    [{"field": "{{ contact.attributes.plan }}", "op": "equals", "value": "trial"}]
                ],
                "actions": [email("Upgrade?")],
            }
        ],
    )
    with time_machine.travel(at(2025, 3, 1, 10), tick=False) as clock:
        still_trial = ingest(
            connector, {"phone": "919847011111", "plan": "trial", "email": "a@x.in"}
        )
        upgraded = ingest(connector, {"phone": "919847022222", "plan": "trial", "email": "b@x.in"})
        Contact.objects.filter(number="919847022222").update(attributes={"plan": "pro"})
        clock.move_to(at(2025, 3, 4, 10))
        assert sweep() == 2
    assert subjects() == [("a@x.in", "Upgrade?")]
    assert RunLog.objects.filter(run=upgraded, kind="step").last().status == "skipped"
    assert RunLog.objects.filter(run=still_trial, kind="step", status="ran").count() == 1


@pytest.mark.django_db
def test_fixed_delay_resumes_at_its_step_even_after_the_steps_change(project):
    connector = build_connector(
        project,
        steps=[
            {"name": "first", "actions": [email("first")]},
            {
                "name": "later",
                "delay": {"mode": "fixed", "amount": 2, "unit": "hours", "identifier": "x"},
                "actions": [email("later")],
            },
        ],
    )
    with time_machine.travel(at(2025, 3, 1, 10), tick=False) as clock:
        run = ingest(connector, {"email": "a@x.in"})
        # A step is inserted in front while the run waits: it resumes at "later".
        Step.objects.filter(connector=connector).update(position=Step.objects.count() + 1)
        Step.objects.create(connector=connector, position=0, name="new first")
        Step.objects.filter(connector=connector, name="first").update(position=1)
        Step.objects.filter(connector=connector, name="later").update(position=2)
        clock.move_to(at(2025, 3, 1, 12))
        assert sweep() == 1
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
    assert subjects() == [("a@x.in", "first"), ("a@x.in", "later")]
    assert RunLog.objects.filter(run=run, kind="step").last().step.name == "later"


@pytest.mark.django_db
def test_if_past_stop_and_unreadable_date_are_logged(project):
    connector = build_connector(
        project,
        steps=[
            {
                "name": "Reminder",
                "delay": {
                    "mode": "relative",
                    "field": "{{ event.due }}",
                    "offset": -1,
                    "unit": "days",
                    "if_past": "stop",
                },
                "actions": [email("Pay")],
            }
        ],
    )
    with time_machine.travel(at(2025, 3, 10), tick=False):
        past = ingest(connector, {"email": "a@x.in", "due": "2025-03-10"})
        unreadable = ingest(connector, {"email": "a@x.in", "due": "whenever"})
    assert past.status == Run.Status.STOPPED
    assert "has passed; if_past is stop" in past.error
    assert unreadable.status == Run.Status.FAILED
    assert "Cannot read 'whenever' as a date" in unreadable.error
    log = RunLog.objects.get(run=unreadable, kind="step")
    assert (log.status, log.error) == ("failed", unreadable.error)
    assert mail.outbox == [] and ScheduledStep.objects.count() == 0


@pytest.fixture
def parked(project):
    """A connector with one 1-hour delay and three runs parked on it."""
    connector = build_connector(
        project,
        steps=[
            {
                "delay": {
                    "mode": "fixed",
                    "amount": "{{ event.hours }}",
                    "unit": "hours",
                    "identifier": "{{ event.key }}",
                },
                "actions": [email("after {{ event.key }}")],
            }
        ],
    )
    with time_machine.travel(at(2025, 3, 1, 10), tick=False):
        runs = [
            ingest(connector, {"email": "a@x.in", "key": key, "hours": hours})
            for key, hours in (("a", 3), ("b", 1), ("c", 2))
        ]
    return connector, runs


@pytest.mark.django_db
def test_the_sweep_claims_in_due_order_and_in_batches(parked):
    connector, runs = parked
    with time_machine.travel(at(2025, 3, 1, 14), tick=False):
        assert delays.fire_due_batch(batch_size=2) == 2
        fired = ScheduledStep.objects.filter(status="fired").order_by("due_at")
        assert [s.identifier for s in fired] == ["b", "c"]
        assert delays.sweep_due_delays(batch_size=2) == 1
        assert delays.sweep_due_delays(batch_size=2) == 0
    assert set(Run.objects.values_list("status", flat=True)) == {Run.Status.QUEUED}
    queued = Run.objects.get(pk=runs[0].pk)
    assert queued.next_step == 0 and queued.delay_done_step == 0


@pytest.mark.django_db
def test_the_sweep_task_and_its_beat_schedule(parked):
    from django_celery_beat.models import PeriodicTask

    with time_machine.travel(at(2025, 3, 1, 14), tick=False):
        tasks.sweep_due_delays()
    assert ScheduledStep.objects.filter(status="pending").count() == 0
    with override_settings(PICKY_DELAY_SWEEP_SECONDS=2):
        ensure_system_schedules()
    task = PeriodicTask.objects.get(task="connectors.tasks.sweep_due_delays")
    assert (task.interval.every, task.interval.period, task.enabled) == (2, "seconds", True)


@pytest.mark.django_db
def test_rows_of_runs_not_waiting_are_held_or_failed(parked):
    _, (run_a, run_b, run_c) = parked
    Run.objects.filter(pk=run_b.pk).update(status=Run.Status.RUNNING)  # being parked right now
    Run.objects.filter(pk=run_c.pk).update(status=Run.Status.STOPPED)  # ended some other way
    with time_machine.travel(at(2025, 3, 1, 14), tick=False):
        assert delays.sweep_due_delays() == 2
    statuses = dict(ScheduledStep.objects.values_list("identifier", "status"))
    assert statuses == {"a": "fired", "b": "pending", "c": "failed"}
    assert Run.objects.get(pk=run_c.pk).status == Run.Status.STOPPED
    Run.objects.filter(pk=run_b.pk).update(status=Run.Status.WAITING)
    with time_machine.travel(at(2025, 3, 1, 14), tick=False):
        assert delays.sweep_due_delays() == 1
    assert ScheduledStep.objects.get(identifier="b").status == "fired"


@pytest.mark.django_db
def test_parking_again_replaces_the_earlier_row_of_the_run(parked):
    connector, (run_a, _, _) = parked
    # As if the worker died after parking and the stuck-run sweep ran the step again.
    Run.objects.filter(pk=run_a.pk).update(status=Run.Status.RUNNING, lease_until=None)
    with time_machine.travel(at(2025, 3, 1, 10, 30), tick=False):
        engine.continue_run(run_a.pk)
    rows = ScheduledStep.objects.filter(run=run_a).order_by("id")
    assert [row.status for row in rows] == ["cancelled", "pending"]
    assert rows[1].due_at == at(2025, 3, 1, 13, 30)
    assert Run.objects.get(pk=run_a.pk).status == Run.Status.WAITING


@pytest.mark.django_db
def test_cancel_delays_only_touches_pending_rows_of_that_connector_and_identifier(project, parked):
    connector, (run_a, run_b, _) = parked
    other = build_connector(
        project,
        name="Other",
        steps=[{"delay": {"mode": "fixed", "amount": 1, "unit": "days", "identifier": "a"}}],
    )
    other_run = ingest(other, {})
    assert delays.cancel_delays(connector, "a", "Gone.") == 1
    assert delays.cancel_delays(connector, "a", "Gone.") == 0
    assert ScheduledStep.objects.get(run=other_run).status == "pending"
    assert ScheduledStep.objects.get(run=run_b).status == "pending"
    run_a.refresh_from_db()
    assert (run_a.status, run_a.error) == (Run.Status.STOPPED, "Gone.")
    assert run_a.finished_at is not None
    log = RunLog.objects.filter(run=run_a).last()
    assert (log.kind, log.status, log.error, log.step_position) == ("step", "stopped", "Gone.", 0)


@pytest.mark.django_db
def test_deleting_a_step_stops_the_runs_waiting_on_it(project):
    connector = build_connector(
        project,
        steps=[{"name": "Later", "delay": {"mode": "fixed", "amount": 3, "unit": "days"},
                "actions": [("set_variable", {"name": "a", "value": "1"})]}],
    )  # fmt: skip
    event = services.record_event(connector, {}, method="POST", headers={}, source_ip=None)
    engine.process_event(event.pk)
    run = Run.objects.get(event=event)
    assert run.status == Run.Status.WAITING
    connector.steps.get().delete()
    run.refresh_from_db()
    assert run.status == Run.Status.STOPPED
    assert "“Later” was deleted" in run.error
    assert not ScheduledStep.objects.exists()
