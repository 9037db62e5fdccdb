"""The fixed set of system schedules celery-beat runs (DESIGN.md "Scheduling").

Each entry is (name, task path, setting that holds the interval in seconds,
default seconds when that setting is absent).
`ensure_system_schedules` writes them into django-celery-beat's tables; it is
called by `manage.py setup_schedules` (part of `make run` and deployment).
User-level timers are rows (ScheduledStep), never periodic tasks.
"""

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

SYSTEM_SCHEDULES = [
    ("picky: send due messages and broadcasts", "teambox.tasks.sweep_messaging",
     "PICKY_MESSAGE_SWEEP_SECONDS", 30),
    ("picky: re-enqueue stuck events and runs", "connectors.tasks.sweep_stuck_runs",
     "PICKY_STUCK_SWEEP_SECONDS", 60),
    ("picky: prune expired events and runs", "connectors.tasks.prune_expired_history",
     "PICKY_PRUNE_SECONDS", 86400),
    ("picky: resume record imports whose worker died", "crm.tasks.sweep_stuck_imports",
     "PICKY_STUCK_SWEEP_SECONDS", 60),
    ("picky: re-enqueue stuck inbound deliveries", "teambox.tasks.sweep_inbound_deliveries",
     "PICKY_STUCK_SWEEP_SECONDS", 60),
    ("picky: prune processed inbound deliveries", "teambox.tasks.prune_inbound_deliveries",
     "PICKY_PRUNE_SECONDS", 86400),
    ("picky: send throttled alert emails", "picky.tasks.send_alert_emails",
     "PICKY_ALERT_SWEEP_SECONDS", 60),
    ("picky: fire due delays", "connectors.tasks.sweep_due_delays",
     "PICKY_DELAY_SWEEP_SECONDS", 5),
    ("picky: nudge and reassign unanswered chats", "teambox.tasks.sweep_unanswered_chats",
     "PICKY_CHAT_SWEEP_SECONDS", 60),
    ("picky: wake snoozed chats", "teambox.tasks.wake_snoozed_chats",
     "PICKY_CHAT_SWEEP_SECONDS", 60),
    ("picky: send due webhook deliveries", "webhooks.tasks.sweep_deliveries",
     "PICKY_WEBHOOK_SWEEP_SECONDS", 5),
    ("picky: send due sequence messages", "journeys.tasks.sweep_sequences",
     "PICKY_SEQUENCE_SWEEP_SECONDS", 10),
    ("picky: notify due reminders", "journeys.tasks.notify_due_reminders",
     "PICKY_REMINDER_SWEEP_SECONDS", 30),
    ("picky: end chatbot flows after their silence", "journeys.tasks.end_silent_flows",
     "PICKY_CHAT_SWEEP_SECONDS", 60),
]  # fmt: skip


def interval_of(entry):
    _, _, setting_name, default = entry
    return float(getattr(settings, setting_name, default))


@transaction.atomic
def ensure_system_schedules():
    for entry in SYSTEM_SCHEDULES:
        name, task, _, _ = entry
        seconds = max(1, round(interval_of(entry)))
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=seconds, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.update_or_create(
            name=name, defaults={"task": task, "interval": interval, "enabled": True}
        )
    return len(SYSTEM_SCHEDULES)
