from datetime import UTC, datetime, timedelta

import time_machine
from django.core import mail

from picky import alerts
from picky.models import AlertState
from picky.schedules import SYSTEM_SCHEDULES
from picky.tasks import send_alert_emails

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SOURCE = "action:7"


def fail(project, error="HTTP 500 from https://api.example.com", recipients=("ops@example.com",)):
    alerts.record_failure(
        project,
        SOURCE,
        label='HTTP Request "Lookup" in Leads',
        error=error,
        recipients=recipients,
        link="http://127.0.0.1:8000/admin/actions/7/",
    )


def test_many_failures_make_one_mail_per_hour(project):
    with time_machine.travel(START, tick=False) as clock:
        for number in range(30):
            fail(project, error=f"HTTP 500 number {number}")
        assert alerts.send_due_alerts() == 1
        assert len(mail.outbox) == 1
        first = mail.outbox[0]
        assert first.to == ["ops@example.com"]
        assert first.subject == '[Picky] HTTP Request "Lookup" in Leads failed 30 times'
        assert "HTTP 500 number 29" in first.body
        assert "http://127.0.0.1:8000/admin/actions/7/" in first.body

        # More failures within the hour: counted, not mailed.
        for minute in range(1, 60, 5):
            clock.move_to(START + timedelta(minutes=minute))
            fail(project, error=f"timeout at minute {minute}")
            assert alerts.send_due_alerts() == 0
        assert len(mail.outbox) == 1

        clock.move_to(START + timedelta(hours=1))
        assert alerts.send_due_alerts() == 1
        second = mail.outbox[1]
        assert "failed 12 times" in second.subject
        assert "since the last alert (2026-03-01 09:00 UTC)" in second.body
        assert "timeout at minute 56" in second.body

        # Nothing failed since: no mail, however much later.
        clock.move_to(START + timedelta(hours=5))
        assert alerts.send_due_alerts() == 0
        assert len(mail.outbox) == 2


def test_reset_mail_timeout_lets_the_next_failure_be_mailed_at_once(project):
    with time_machine.travel(START, tick=False) as clock:
        fail(project)
        alerts.send_due_alerts()
        clock.shift(timedelta(minutes=10))
        fail(project, error="again")
        assert alerts.send_due_alerts() == 0
        assert alerts.next_mail_at(alerts.alert_state(project, SOURCE)) == START + timedelta(
            hours=1
        )

        assert alerts.reset_mail_timeout(project, SOURCE) == 1
        assert alerts.next_mail_at(alerts.alert_state(project, SOURCE)) is None
        assert alerts.send_due_alerts() == 1
        assert mail.outbox[-1].subject.endswith("failed once")
        assert "again" in mail.outbox[-1].body


def test_project_alert_email_is_used_when_the_source_names_none(project):
    project.alert_email = "owner@acme.example"
    project.save()
    fail(project, recipients=())
    assert alerts.send_due_alerts() == 1
    assert mail.outbox[0].to == ["owner@acme.example"]


def test_failures_without_any_address_wait_for_one(project):
    fail(project, recipients=())
    assert alerts.send_due_alerts() == 0
    assert mail.outbox == []
    project.alert_email = "owner@acme.example"
    project.save()
    assert alerts.send_due_alerts() == 1
    assert "failed once" in mail.outbox[0].subject


def test_sources_are_throttled_separately(project, other_project):
    fail(project)
    alerts.record_failure(
        other_project, SOURCE, label="Other", error="x", recipients=["b@example.com"]
    )
    alerts.record_failure(project, "action:8", label="Eight", error="y", recipients=["c@x.io"])
    assert alerts.send_due_alerts() == 3
    assert sorted(m.to[0] for m in mail.outbox) == ["b@example.com", "c@x.io", "ops@example.com"]


def test_a_mail_server_error_keeps_the_failures_pending(project, settings):
    settings.EMAIL_BACKEND = "tests.picky.test_alerts.BrokenBackend"
    fail(project)
    assert alerts.send_due_alerts() == 0
    state = AlertState.objects.get()
    assert (state.pending_failures, state.last_mailed_at) == (1, None)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert alerts.send_due_alerts() == 1


def test_beat_task_sends_the_mails(project):
    assert "picky.tasks.send_alert_emails" in [entry[1] for entry in SYSTEM_SCHEDULES]
    fail(project)
    send_alert_emails()
    assert len(mail.outbox) == 1


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")
