"""The format_date action: read a date through the one date reader (picky/dates.py), move
it by an amount, put it in a time zone and write it with a named format or a pattern; or
count the minutes, hours, days, weeks, months or years between two dates.

Day-based amounts (days, weeks, months, years) move the wall clock, as a person counts
them: 10:00 the day before a DST change plus 1 day is 10:00 the next day (23 or 25 hours
later). Minutes and hours are elapsed time. Differences count the same way.

Names of months and weekdays are English: Picky's projects have no language setting.
"""

import zoneinfo
from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta
from django import forms
from django.utils import timezone

from picky.dates import DateError, read_datetime, wall_time
from picky.wording import counted

from ...base import ActionConfigForm, ActionError, ActionType, Result
from ...registry import register
from .numbers import NumberError, read_number

UNITS = ("minutes", "hours", "days", "weeks", "months", "years")
ELAPSED_SECONDS = {"minutes": 60, "hours": 3600}
NAMED_FORMATS = {
    "date_time": "Tuesday 9 Dec 2025, 4:30 pm",
    "date": "9 December 2025",
    "time": "4:30 pm",
    "weekday": "Tuesday",
    "relative": "in 3 days / 2 hours ago",
    "iso": "2025-12-09T16:30:00+05:30",
    "pattern": "a pattern of your own",
}
# A date the pattern is tried on at save.
PATTERN_CHECK_DATE = datetime(2025, 12, 9, 16, 30, tzinfo=UTC)
MAX_AMOUNT = 100_000


class FormatDateForm(ActionConfigForm):
    operation = forms.ChoiceField(
        choices=[("format", "Format a date"), ("difference", "Difference between two dates")],
        required=False,
        help_text="Default: format a date.",
    )
    date = forms.CharField(
        max_length=1000,
        help_text=(
            "The date: ISO 8601, epoch seconds or milliseconds, or a written date "
            "(Thu, 20 Mar 2025 06:30). Without an offset it is read in the project's time zone."
        ),
    )
    day_first = forms.BooleanField(
        required=False, help_text="Read 03/04/2025 as 3 April (default: 4 March)."
    )
    amount = forms.CharField(
        required=False,
        max_length=1000,
        help_text="Add this many units (negative subtracts); a number or a template.",
    )
    unit = forms.ChoiceField(
        choices=[(unit, unit.capitalize()) for unit in UNITS],
        required=False,
        help_text="Unit of the amount, or of the difference. Default: days.",
    )
    other_date = forms.CharField(
        required=False,
        max_length=1000,
        help_text="Difference only: the later date; the result is other date − date.",
    )
    time_zone = forms.CharField(
        required=False,
        max_length=64,
        help_text="Write the date in this zone (Asia/Kolkata); default: the project's.",
    )
    format = forms.ChoiceField(
        choices=[
            (key, f"{key.replace('_', ' ')}: {shown}") for key, shown in NAMED_FORMATS.items()
        ],
        required=False,
        help_text="Default: date time.",
    )
    pattern = forms.CharField(
        required=False,
        max_length=200,
        strip=False,
        help_text="With the format 'pattern': strftime codes, e.g. %d/%m/%Y %H:%M.",
    )

    def clean(self):
        cleaned = super().clean()
        operation = cleaned.get("operation") or "format"
        if operation == "difference" and not cleaned.get("other_date"):
            self.add_error("other_date", "Give the other date to count the difference to.")
        if cleaned.get("format") == "pattern" and not cleaned.get("pattern"):
            self.add_error("pattern", "Give the pattern, e.g. %d/%m/%Y %H:%M.")
        amount = cleaned.get("amount") or ""
        if amount and "{{" not in amount:
            try:
                whole_amount(amount)
            except ActionError as exc:
                self.add_error("amount", exc.message)
        zone = cleaned.get("time_zone") or ""
        if zone and "{{" not in zone and zone not in zoneinfo.available_timezones():
            self.add_error("time_zone", f"{zone!r} is not a time zone name, like Asia/Kolkata.")
        pattern = cleaned.get("pattern")
        if pattern:
            try:
                PATTERN_CHECK_DATE.strftime(pattern)
            except ValueError as exc:
                self.add_error("pattern", f"This pattern cannot be used: {exc}.")
        return cleaned


def whole_amount(value):
    """The amount as a whole number, or ActionError naming it."""
    try:
        number = read_number(value, "The amount")
    except NumberError as exc:
        raise ActionError(str(exc)) from None
    if number != number.to_integral_value():
        raise ActionError(f"The amount {value} is not a whole number of units.")
    if abs(number) > MAX_AMOUNT:
        raise ActionError(f"The amount {value} is over {MAX_AMOUNT}.")
    return int(number)


@register("format_date")
class FormatDate(ActionType):
    label = "Format Date and Time"
    category = "Formatter"
    description = (
        "Read a date, add or subtract time, convert it to a time zone and write it as you "
        "choose (`text`, `iso`, `epoch` under Save as); or count the time between two dates "
        "(`difference`)."
    )
    form_class = FormatDateForm
    literal_fields = ("operation", "day_first", "unit", "format", "pattern")
    shows_preview = True

    def run(self, ctx, inputs):
        project_zone = ctx.project.tzinfo
        day_first = bool(inputs.get("day_first"))
        unit = inputs.get("unit") or "days"
        moment = read(inputs.get("date"), project_zone, day_first, "The date")
        amount = inputs.get("amount")
        if amount not in (None, ""):
            moment = shifted(moment, whole_amount(amount), unit)
        if inputs.get("operation") == "difference":
            other = read(inputs.get("other_date"), project_zone, day_first, "The other date")
            return Result(outputs={"difference": difference(moment, other, unit), "unit": unit})
        zone = target_zone(inputs.get("time_zone"), ctx.project)
        local = moment.astimezone(zone)
        return Result(
            outputs={
                "text": written(local, inputs.get("format") or "date_time", inputs.get("pattern")),
                "iso": local.isoformat(),
                "epoch": int(local.timestamp()),
                "time_zone": str(zone),
            }
        )


def read(value, tzinfo, day_first, what):
    try:
        return read_datetime(value, tzinfo, day_first)
    except DateError as exc:
        raise ActionError(f"{what}: {exc}") from None


def target_zone(name, project):
    name = str(name or "").strip()
    if not name:
        return project.tzinfo
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ActionError(f"{name!r} is not a time zone name, like Asia/Kolkata.") from None


def shifted(moment, amount, unit):
    """`moment` moved by `amount` units: elapsed time for minutes and hours, the wall clock
    of its zone for days and longer (DST resolved as the date reader resolves it)."""
    if unit in ELAPSED_SECONDS:
        # Through UTC: Python adds to an aware datetime on its wall clock.
        elapsed = timedelta(seconds=amount * ELAPSED_SECONDS[unit])
        return (moment.astimezone(UTC) + elapsed).astimezone(moment.tzinfo)
    naive = moment.replace(tzinfo=None) + relativedelta(**{unit: amount})
    return wall_time(naive, moment.tzinfo)


def difference(start, end, unit):
    """Whole `unit`s from `start` to `end` (negative when `end` is earlier), counted as
    `shifted` moves: elapsed for minutes and hours, on the wall clock for longer units."""
    if unit in ELAPSED_SECONDS:
        elapsed = end.astimezone(UTC) - start.astimezone(UTC)
        return int(elapsed.total_seconds() / ELAPSED_SECONDS[unit])
    zone = start.tzinfo
    start_wall = start.replace(tzinfo=None)
    end_wall = end.astimezone(zone).replace(tzinfo=None)
    if unit in ("months", "years"):
        span = relativedelta(end_wall, start_wall)
        months = span.years * 12 + span.months
        return months if unit == "months" else int(months / 12)
    days = (end_wall - start_wall).total_seconds() / 86400
    return int(days if unit == "days" else days / 7)


def written(local, name, pattern=None):
    """`local` in the named format (NAMED_FORMATS), or with the strftime `pattern`."""
    if name == "pattern":
        try:
            return local.strftime(pattern or "")
        except ValueError as exc:
            raise ActionError(f"The pattern cannot be used: {exc}.") from None
    if name == "iso":
        return local.isoformat()
    if name == "relative":
        return relative(local, timezone.now())
    time = f"{local.hour % 12 or 12}:{local:%M} {'am' if local.hour < 12 else 'pm'}"
    if name == "time":
        return time
    if name == "weekday":
        return f"{local:%A}"
    if name == "date":
        return f"{local.day} {local:%B %Y}"
    return f"{local:%A} {local.day} {local:%b %Y}, {time}"


RELATIVE_STEPS = (
    (60, 1, "second"),
    (3600, 60, "minute"),
    (86400, 3600, "hour"),
    (30 * 86400, 86400, "day"),
    (365 * 86400, 30 * 86400, "month"),
)


def relative(moment, now):
    """'in 3 days', '2 hours ago', 'now': the distance from `now`, in its largest unit."""
    seconds = (moment - now).total_seconds()
    distance = abs(seconds)
    if distance < 1:
        return "now"
    size, noun = next(
        ((size, noun) for below, size, noun in RELATIVE_STEPS if distance < below),
        (365 * 86400, "year"),
    )
    amount = counted(int(distance // size), noun)
    return f"in {amount}" if seconds > 0 else f"{amount} ago"
