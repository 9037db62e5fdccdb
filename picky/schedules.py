"""The fixed set of system schedules celery-beat runs (DESIGN.md "Scheduling").

Each entry is (name, task path, setting that holds the interval in seconds).
`ensure_system_schedules` writes them into django-celery-beat's tables; it is
called by `manage.py setup_schedules` (part of `make run` and deployment).
User-level timers are rows (ScheduledStep), never periodic tasks.
"""

from django.conf import settings
from django.db import transaction

SYSTEM_SCHEDULES = []


def interval_of(entry):
    _, _, setting_name, default = entry
    return float(getattr(settings, setting_name, default))


@transaction.atomic
def ensure_system_schedules():
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

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
