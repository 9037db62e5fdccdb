"""Reminders that fire: a due reminder tells its assignee once, in the app and by e-mail."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django_celery_beat.models import PeriodicTask

from actions.base import ActionContext
from actions.registry import get_type
from actions.types.crm import set_contact
from crm import services as crm
from crm.models import Reminder
from journeys import reminders
from picky.models import Membership
from picky.schedules import ensure_system_schedules
from teambox.models import Notification

NOW = datetime(2026, 3, 2, 4, 30, tzinfo=UTC)  # 10:00 in Asia/Kolkata


@pytest.fixture
def agent(project):
    user = get_user_model().objects.create_user("meera", email="meera@shop.example")
    Membership.objects.create(project=project, user=user, role=Membership.Role.AGENT)
    return user


@pytest.fixture
def asha(project):
    return crm.upsert_contact(project, "919847012345", name="Asha")


def sweep_at(moment):
    with time_machine.travel(moment, tick=False):
        return reminders.notify_due_reminders()


@pytest.mark.django_db
def test_a_reminder_made_by_hand_tells_its_assignee_once_when_due(asha, agent):
    reminder = crm.add_reminder(asha, "Call back about the quote", NOW, assignee=agent)
    assert sweep_at(NOW - timedelta(minutes=1)) == 0
    assert not Notification.objects.exists() and not mail.outbox

    assert sweep_at(NOW) == 1
    notification = Notification.objects.get()
    assert (notification.user, notification.contact) == (agent, asha)
    assert notification.title == "Reminder: Call back about the quote"
    (sent,) = mail.outbox
    assert sent.to == ["meera@shop.example"]
    assert sent.subject == "Reminder: Call back about the quote"
    assert "Due: 2026-03-02 10:00 (Asia/Kolkata)" in sent.body
    assert f"/admin/crm/contact/{asha.pk}/change/" in sent.body

    assert sweep_at(NOW + timedelta(days=1)) == 0  # once
    assert Notification.objects.count() == 1 and len(mail.outbox) == 1
    reminder.refresh_from_db()
    assert reminder.notified_at == NOW


@pytest.mark.django_db
def test_add_reminder_action_reminders_fire_too(project, asha, agent):
    ctx = ActionContext(project=project, data={"event": {}, "vars": {}, "contact": {}})
    set_contact(ctx, asha)
    config = {"text": "Send the brochure", "amount": 2, "unit": "hours", "assignee": "meera"}
    add_reminder = get_type("add_reminder")
    with time_machine.travel(NOW, tick=False):
        add_reminder.run(ctx, add_reminder.render(ctx, add_reminder.validate(config, project)))
    assert sweep_at(NOW + timedelta(hours=1)) == 0
    assert sweep_at(NOW + timedelta(hours=2)) == 1
    assert Notification.objects.get().user == agent
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_without_an_assignee_the_owner_is_told_and_done_reminders_tell_nobody(project, asha, agent):
    crm.add_reminder(asha, "Nobody assigned", NOW)
    done = crm.add_reminder(asha, "Already done", NOW, assignee=agent)
    Reminder.objects.filter(pk=done.pk).update(done=True)
    assert sweep_at(NOW) == 1  # nobody to tell: settled, nothing sent
    assert not Notification.objects.exists() and not mail.outbox

    asha.owner = agent
    asha.save()
    crm.add_reminder(asha, "The owner's", NOW)
    assert sweep_at(NOW) == 1
    assert Notification.objects.get().title == "Reminder: The owner's"


@pytest.mark.django_db
def test_a_mail_server_that_refuses_loses_the_mail_not_the_notification(asha, agent, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    crm.add_reminder(asha, "Call back", NOW, assignee=agent)
    assert sweep_at(NOW) == 1
    assert Notification.objects.count() == 1
    assert sweep_at(NOW) == 0  # not tried again


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_tell_each_assignee_once(project, agent):
    if connection.vendor != "postgresql":
        pytest.skip("row locks with SKIP LOCKED need PostgreSQL")
    contact = crm.upsert_contact(project, "919847012345")
    Reminder.objects.bulk_create(
        Reminder(project=project, contact=contact, text=f"R{n}", due_at=NOW, assignee=agent)
        for n in range(400)
    )
    settled = {}
    start = threading.Barrier(2)

    def sweeper(name):
        try:
            start.wait()
            total = 0
            while count := reminders.notify_due_batch(batch_size=20)[0]:
                total += count
            settled[name] = total
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(settled.values()) == 400
    assert Notification.objects.count() == 400
    assert Notification.objects.values("title").distinct().count() == 400


@pytest.mark.django_db
def test_beat_runs_the_sequence_and_reminder_sweeps_at_their_settings(settings):
    settings.PICKY_SEQUENCE_SWEEP_SECONDS, settings.PICKY_REMINDER_SWEEP_SECONDS = 7, 45
    ensure_system_schedules()
    every = dict(PeriodicTask.objects.values_list("task", "interval__every"))
    assert every["journeys.tasks.sweep_sequences"] == 7
    assert every["journeys.tasks.notify_due_reminders"] == 45
