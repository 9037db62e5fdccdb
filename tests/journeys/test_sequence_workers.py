"""Sequences and reminders through real Celery workers (PostgreSQL, Redis): the beat tasks
run in two workers at once, and each due delivery is sent once through the sandbox channel,
each due reminder told once; what is not due yet stays pending."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from crm import services as crm
from crm.models import Reminder
from journeys.sequences import services as sequences
from journeys.sequences.models import Delivery, Sequence, SequenceMessage, Subscription
from journeys.tasks import notify_due_reminders, sweep_sequences
from picky.models import Membership
from teambox.models import Message, Notification
from tests.workers import purge_broker, requires_integration, running_worker, wait_for

pytestmark = [pytest.mark.integration, requires_integration]

SUBSCRIBERS = 100


@pytest.mark.django_db(transaction=True)
def test_two_workers_send_each_due_step_once_and_leave_the_rest(project, sandbox):
    purge_broker()
    sequence = Sequence.objects.create(project=project, name="Welcome", channel=sandbox)
    SequenceMessage.objects.create(sequence=sequence, position=0, text="Hi {{ contact.name }}")
    SequenceMessage.objects.create(sequence=sequence, position=1, text="Tips", delay_amount=1)
    SequenceMessage.objects.create(sequence=sequence, position=2, text="Bye", delay_amount=5)
    contacts = [
        crm.upsert_contact(project, f"9198470{n:05d}", name=f"C{n}") for n in range(SUBSCRIBERS)
    ]
    # Subscribed two days ago: the first two steps are due now, the last in three days.
    with time_machine.travel(timezone.now() - timedelta(days=2)):
        for contact in contacts:
            sequences.subscribe(sequence, contact)
    sent = Delivery.objects.filter(status=Delivery.Status.SENT)

    with running_worker(name="j1-a"), running_worker(name="j1-b"):
        for _ in range(4):
            sweep_sequences.delay()
        wait_for(
            lambda: (
                sent.count() == 2 * SUBSCRIBERS
                and not Message.objects.exclude(status=Message.Status.DELIVERED).exists()
            ),
            timeout=120,
            message="the due steps sent and delivered",
        )

    messages = Message.objects.filter(direction=Message.Direction.OUT)
    assert messages.count() == 2 * SUBSCRIBERS
    assert messages.values("contact", "body").distinct().count() == 2 * SUBSCRIBERS
    assert messages.filter(body="Hi C7").count() == 1
    assert Delivery.objects.filter(status=Delivery.Status.PENDING).count() == SUBSCRIBERS
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING)
    assert set(pending.values_list("message__text", flat=True)) == {"Bye"}
    assert not Subscription.objects.exclude(status=Subscription.Status.ACTIVE).exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_tells_each_due_reminder_once(project, tmp_path):
    purge_broker()
    agent = get_user_model().objects.create_user("meera", email="meera@shop.example")
    Membership.objects.create(project=project, user=agent, role=Membership.Role.AGENT)
    contact = crm.upsert_contact(project, "919847012345", name="Asha")
    now = timezone.now()
    for n in range(20):
        crm.add_reminder(contact, f"Due {n}", now - timedelta(minutes=n), assignee=agent)
    later = crm.add_reminder(contact, "Tomorrow", now + timedelta(days=1), assignee=agent)

    mail_dir = tmp_path / "mail"
    with running_worker(name="j1-r", env={"EMAIL_URL": f"filemail:///{mail_dir}"}):
        notify_due_reminders.delay()
        notify_due_reminders.delay()
        wait_for(
            lambda: Reminder.objects.filter(notified_at__isnull=False).count() == 20,
            timeout=60,
            message="the due reminders told",
        )
        wait_for(lambda: mails(mail_dir).count("Subject: Reminder: Due") == 20, message="mails")

    assert Notification.objects.filter(user=agent).count() == 20
    assert Notification.objects.values("title").distinct().count() == 20
    assert "To: meera@shop.example" in mails(mail_dir)
    later.refresh_from_db()
    assert later.notified_at is None


def mails(mail_dir):
    """What the worker's file mail backend wrote so far."""
    if not mail_dir.exists():
        return ""
    return "".join(path.read_text() for path in mail_dir.iterdir())
