"""Reminders that fire: a due reminder (crm.Reminder, from add_reminder or made by hand)
tells its assignee, or else the contact's owner, once: a teambox notification and an e-mail.

Beat sweeps due reminders (journeys.tasks.notify_due_reminders): each batch claims them with
`SELECT ... FOR UPDATE SKIP LOCKED`, writes the notifications and marks them notified in one
transaction; the e-mails go once it has committed. A reminder is claimed once, so it is
told once however many sweeps run; a mail server that refuses loses that reminder's mail
(logged), never repeats a mail. A reminder marked done before it is due tells nobody.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from crm.models import Reminder
from teambox.notifications import notify_agents

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
MAX_BATCHES = 20


def notify_due_reminders(batch_size=BATCH_SIZE, max_batches=MAX_BATCHES):
    """Tell the assignees of every due reminder (up to `max_batches` batches); returns how
    many reminders were settled."""
    settled = 0
    for _ in range(max_batches):
        count, mails = notify_due_batch(batch_size)
        send_mails(mails)
        settled += count
        if count < batch_size:
            break
    return settled


@transaction.atomic
def notify_due_batch(batch_size=BATCH_SIZE):
    """Claim one batch of due reminders, notify in the app and mark them notified; returns
    (reminders settled, the e-mails to send once committed)."""
    now = timezone.now()
    ids = list(
        Reminder.objects.select_for_update(skip_locked=True)
        .filter(done=False, notified_at__isnull=True, due_at__lte=now)
        .order_by("due_at")
        .values_list("pk", flat=True)[:batch_size]
    )
    if not ids:
        return 0, []
    reminders = Reminder.objects.filter(pk__in=ids).select_related(
        "project", "contact__owner", "assignee"
    )
    mails = []
    for reminder in reminders:
        user = reminder.assignee or reminder.contact.owner
        if user is None:
            continue  # nobody to tell: the reminder stays on the contact's page
        title, body = reminder_message(reminder)
        notify_agents(reminder.project, [user], title, body, contact=reminder.contact)
        if user.email:
            mails.append(EmailMessage(title, body, None, [user.email]))
    Reminder.objects.filter(pk__in=ids).update(notified_at=now)
    return len(ids), mails


def reminder_message(reminder):
    """(title, text) of a due reminder, its time in the project's time zone."""
    contact = reminder.contact
    due = reminder.due_at.astimezone(reminder.project.tzinfo)
    first_line = reminder.text.strip().splitlines()[0] if reminder.text.strip() else ""
    title = f"Reminder: {first_line}"
    link = settings.PUBLIC_BASE_URL.rstrip("/") + reverse(
        "admin:crm_contact_change", args=[contact.pk]
    )
    body = (
        f"{reminder.text}\n\n"
        f"Contact: {contact}{f' ({contact.number})' if contact.number else ''}\n"
        f"Due: {due:%Y-%m-%d %H:%M} ({reminder.project.time_zone})\n"
        f"Open the contact: {link}\n"
    )
    return title, body


def send_mails(mails):
    if not mails:
        return
    try:
        get_connection().send_messages(mails)
    except Exception:
        # Already marked notified (the in-app notification stands): not sent twice.
        logger.exception("Sending %d reminder e-mails failed", len(mails))
