"""When a sequence step is due for a subscriber, and what is wrong with a step's settings.

Minutes and hours are elapsed time from the subscription. Days are calendar days in the
project's time zone: "after 1 day" of a subscription at 09:00 is 09:00 the next day, even
across a DST change, and "on day 2 at 18:00" is 18:00 local two days after the day of the
subscription. A wall time skipped by DST moves forward by the gap, a repeated one takes
its first occurrence (picky.dates.wall_time). With weekdays chosen, a step that falls on
another day waits for the next chosen day, at the same time of day. A due time already
passed (day 0 at 09:00 for a subscription at 10:00) is sent by the next sweep.
"""

from datetime import UTC, datetime, timedelta

from django.db import models

from picky.dates import wall_time


class Timing(models.TextChoices):
    AFTER = "after", "After a delay"
    ON_DAY = "on_day", "On day N at a time"


class Unit(models.TextChoices):
    MINUTES = "minutes", "minutes"
    HOURS = "hours", "hours"
    DAYS = "days", "days"


WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
# A step longer after the subscription than this is a typo (and out of datetime's range).
MOST_DAYS = 3660


def due_time(step, started_at, tzinfo):
    """When `step` is due for a subscription started at `started_at` (an aware datetime),
    in UTC."""
    local = started_at.astimezone(tzinfo)
    if step.timing == Timing.ON_DAY:
        day = local.date() + timedelta(days=step.day or 0)
        due = wall_time(datetime.combine(day, step.send_time), tzinfo)
    elif step.delay_unit == Unit.DAYS:
        due = wall_time(local.replace(tzinfo=None) + timedelta(days=step.delay_amount), tzinfo)
    else:
        unit = "hours" if step.delay_unit == Unit.HOURS else "minutes"
        due = started_at.astimezone(UTC) + timedelta(**{unit: step.delay_amount})
    if step.weekdays:
        due = on_chosen_weekday(due.astimezone(tzinfo), set(step.weekdays), tzinfo)
    return due.astimezone(UTC)


def on_chosen_weekday(due, weekdays, tzinfo):
    """`due` (local) moved forward by whole days until its weekday is one of `weekdays`."""
    wall = due.replace(tzinfo=None)
    for _ in range(7):
        if wall.weekday() in weekdays:
            break
        wall += timedelta(days=1)
    return wall_time(wall, tzinfo)


def describe_timing(step):
    """The step's timing as a person says it: "2 days after subscribing", "day 1 at 09:00"."""
    if step.timing == Timing.ON_DAY:
        when = f"on day {step.day} at {step.send_time:%H:%M}" if step.send_time else "on day ?"
    elif not step.delay_amount:
        when = "right after subscribing"
    else:
        unit = step.delay_unit.removesuffix("s")
        amount = step.delay_amount
        when = f"{amount} {unit}{'' if amount == 1 else 's'} after subscribing"
    if step.weekdays:
        days = ", ".join(WEEKDAY_NAMES[day][:3] for day in sorted(step.weekdays))
        when += f" (only {days})"
    return when


def timing_errors(step):
    """{field: message} for a step whose timing cannot be planned."""
    errors = {}
    if step.timing == Timing.ON_DAY:
        if step.day is None:
            errors["day"] = "Give the day (0 is the day of the subscription)."
        elif step.day > MOST_DAYS:
            errors["day"] = f"At most day {MOST_DAYS}."
        if step.send_time is None:
            errors["send_time"] = "Give the time of day, e.g. 09:00."
    else:
        limit = {Unit.MINUTES: MOST_DAYS * 1440, Unit.HOURS: MOST_DAYS * 24}.get(
            step.delay_unit, MOST_DAYS
        )
        if step.delay_amount > limit:
            errors["delay_amount"] = f"At most {limit} {step.delay_unit}."
    weekdays = step.weekdays
    if not isinstance(weekdays, list) or not all(
        isinstance(day, int) and not isinstance(day, bool) and 0 <= day <= 6 for day in weekdays
    ):
        errors["weekdays"] = "Choose weekdays from Monday to Sunday."
    return errors
