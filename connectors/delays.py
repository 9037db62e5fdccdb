"""Delayed steps: when a parked run is due, claiming due rows, cancelling them.

A step's `delay` (part of the connector JSON, DESIGN.md) is null or one of:

    {"mode": "fixed", "amount": 3, "unit": "days",
     "at": "09:00", "identifier": "{{ event.order_id }}"}

    {"mode": "relative", "field": "{{ event.webinar.start }}",
     "offset": -2, "unit": "hours", "at": "09:00", "if_past": "skip",
     "day_first": false, "identifier": "{{ event.meeting_id }}"}

- `unit`: minutes, hours, days or weeks. Minutes and hours are elapsed time;
  days and weeks are calendar days in the project's time zone, so "1 day
  before 10:00" is 10:00 the day before even across a DST change.
- `amount` (fixed, >= 0) and `offset` (relative, signed: -2 is "2 before",
  1 is "1 after") are numbers, or templates that render to a number.
  `offset` defaults to 0, `unit` to "minutes".
- `at` (optional, "HH:MM" or "HH:MM:SS", project time zone): after moving by
  whole days or weeks, the time of day is set to `at` ("on the date at
  09:00", "1 day before at 09:00", "3 days later at 09:00"). It needs a unit
  of days or weeks. A fixed delay whose `at` has passed today waits for the
  same time tomorrow.
- `field` (relative): a template whose value is an ISO 8601 date or
  date-time, `YYYY-MM-DD`, `YYYY-MM-DD HH:MM`, `YYYYMMDD`, epoch seconds or
  milliseconds (a number or a string of digits), or another common written
  form that python-dateutil reads (`day_first: true` reads 03/04/2025 as
  3 April). Values without a UTC offset are in the project's time zone; a
  wall time skipped by DST moves forward by the gap, a repeated one takes
  its first occurrence. picky/dates.py reads it, as it reads filters' and
  reminders' dates.
- `if_past` (relative, default "run_now"): what happens when the due time
  has already passed: `run_now`, `skip` (skip this step, go on) or `stop`
  (stop the run).
- `identifier` (optional template): stored with the parked run, so that
  `cancel_delay` can find it (a meeting id, an order id). Cut to 255
  characters.

An absent or null key takes its default; a key not named here is an error.

A parked run is a `ScheduledStep`; `sweep_due_delays` (a celery-beat task
every PICKY_DELAY_SWEEP_SECONDS) claims due rows in batches with
`SELECT ... FOR UPDATE SKIP LOCKED`, marks them fired and resumes their runs
in the same transaction, so each row fires once however many sweeps run.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from picky.dates import DateError, read_datetime, wall_time
from picky.templating import render_value, template_errors, to_text

from . import runs
from .models import Run, RunLog, ScheduledStep, Step

UNITS = ("minutes", "hours", "days", "weeks")
CALENDAR_UNITS = ("days", "weeks")
IF_PAST_CHOICES = ("run_now", "skip", "stop")
MODES = ("fixed", "relative")
KNOWN_KEYS = {
    "mode",
    "amount",
    "offset",
    "unit",
    "at",
    "field",
    "if_past",
    "day_first",
    "identifier",
}
DEFAULTS = {
    "unit": "minutes",
    "offset": 0,
    "if_past": "run_now",
    "day_first": False,
    "identifier": "",
}
IDENTIFIER_MAX_LENGTH = ScheduledStep._meta.get_field("identifier").max_length

SWEEP_BATCH_SIZE = 500
# One sweep fires at most this many batches; the next beat tick takes the rest.
SWEEP_MAX_BATCHES = 20
CANCEL_BATCH_SIZE = 1000

NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
TIME_OF_DAY = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


class DelayError(ValueError):
    """A delay that cannot be planned: bad config or an unreadable date."""


@dataclass
class DelayPlan:
    """What the engine does with a delayed step (see engine_api.md).

    decision: "now" (run the step now), "park" (wait until `due_at`), "skip"
    (skip the step, go on), "stop" (stop the run) or "fail" (fail the run).
    `reason` is the log line that explains the decision.
    """

    decision: str
    due_at: datetime | None = None
    identifier: str = ""
    reason: str = ""


# --- configuration ---------------------------------------------------------


def delay_errors(delay):
    """Problems of a step's delay config as {key: message}; empty when valid."""
    if delay is None:
        return {}
    if not isinstance(delay, dict):
        return {"delay": "The delay must be an object or null."}
    errors = {}
    mode = delay.get("mode")
    if mode not in MODES:
        errors["mode"] = f"Unknown mode {mode!r}; use one of: {', '.join(MODES)}."
    unknown = sorted(set(delay) - KNOWN_KEYS)
    for key in unknown:
        errors[key] = f"Unknown key; known keys: {', '.join(sorted(KNOWN_KEYS))}."
    unit = option(delay, "unit")
    if unit not in UNITS:
        errors["unit"] = f"Unknown unit {unit!r}; use one of: {', '.join(UNITS)}."
    amount_key = "offset" if mode == "relative" else "amount"
    amount = option(delay, amount_key)
    if amount is None or amount == "":
        errors[amount_key] = f"The {amount_key} is required (a number)."
    elif isinstance(amount, str) and "{{" in amount:
        if template_errors(amount):
            errors[amount_key] = "; ".join(template_errors(amount))
    elif not _is_number(amount):
        errors[amount_key] = f"{amount!r} is not a number."
    elif mode == "fixed" and float(amount) < 0:
        errors[amount_key] = "A fixed delay cannot be negative."
    at = delay.get("at")
    if at not in (None, ""):
        if not isinstance(at, str) or not TIME_OF_DAY.match(at.strip()):
            errors["at"] = f"{at!r} is not a time of day like 09:00."
        elif unit not in CALENDAR_UNITS:
            errors["at"] = "A time of day needs the unit days or weeks."
    if mode == "relative":
        field = delay.get("field")
        if not isinstance(field, str) or not field.strip():
            errors["field"] = "A relative delay needs the date field, e.g. {{ event.start }}."
        elif template_errors(field):
            errors["field"] = "; ".join(template_errors(field))
        if_past = option(delay, "if_past")
        if if_past not in IF_PAST_CHOICES:
            errors["if_past"] = (
                f"Unknown if_past {if_past!r}; use one of: {', '.join(IF_PAST_CHOICES)}."
            )
        if not isinstance(option(delay, "day_first"), bool):
            errors["day_first"] = "day_first is true or false."
    identifier = option(delay, "identifier")
    if not isinstance(identifier, str):
        errors["identifier"] = "The identifier must be text (a template)."
    elif template_errors(identifier):
        errors["identifier"] = "; ".join(template_errors(identifier))
    return errors


def option(delay, key):
    """A delay setting; absent or null means its default."""
    value = delay.get(key)
    return DEFAULTS.get(key) if value is None else value


def _is_number(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and bool(NUMBER.match(value.strip()))


# --- dates -----------------------------------------------------------------


def shift(moment, amount, unit, tzinfo, at=None):
    """`moment` moved by `amount` units; days and weeks move on the calendar of `tzinfo`."""
    try:
        if unit in CALENDAR_UNITS:
            days = amount * (7 if unit == "weeks" else 1)
            if days == 0 and at is None:
                return moment.astimezone(tzinfo)
            wall = moment.astimezone(tzinfo).replace(tzinfo=None) + timedelta(days=days)
            if at is not None:
                wall = datetime.combine(wall.date(), at)
            return wall_time(wall, tzinfo)
        step = timedelta(hours=amount) if unit == "hours" else timedelta(minutes=amount)
        # Elapsed time: add in UTC, as aware arithmetic in a zone adds wall time.
        return (moment.astimezone(UTC) + step).astimezone(tzinfo)
    except (OverflowError, ValueError):
        raise DelayError(f"Moving {_show(moment)} by {amount:g} {unit} is out of range.") from None


def parse_time_of_day(text):
    match = TIME_OF_DAY.match(text.strip())
    hour, minute, second = match.groups()
    return time(int(hour), int(minute), int(second or 0))


def clean_identifier(value):
    """The stored form of an identifier: text, trimmed, at most 255 characters."""
    return to_text(value).strip()[:IDENTIFIER_MAX_LENGTH]


# --- planning --------------------------------------------------------------


def plan_delay(step, ctx):
    """Decide what happens to `step` (which has a delay) in the run of `ctx`."""
    delay = step.delay
    errors = delay_errors(delay)
    if errors:
        problems = "; ".join(f"{key}: {message}" for key, message in errors.items())
        return DelayPlan("fail", reason=f"The delay of step {step} is invalid: {problems}")
    tzinfo = ctx.project.tzinfo
    now = timezone.now()
    identifier = clean_identifier(ctx.render(option(delay, "identifier")))
    unit = option(delay, "unit")
    at = parse_time_of_day(delay["at"]) if delay.get("at") else None
    try:
        if delay["mode"] == "fixed":
            amount = _number(delay["amount"], ctx, "amount")
            if amount < 0:
                raise DelayError(f"The amount {amount:g} is negative.")
            due_at = shift(now, amount, unit, tzinfo, at)
            if at is not None and due_at <= now:
                due_at = shift(due_at, 1, "days", tzinfo, at)
            described = f"{amount:g} {unit} after {_show(now)}" + (f" at {at:%H:%M}" if at else "")
        else:
            offset = _number(option(delay, "offset"), ctx, "offset")
            value = render_value(delay["field"], ctx.data)
            try:
                base = read_datetime(value, tzinfo, option(delay, "day_first"))
            except DateError as exc:
                raise DelayError(f"Cannot use the date field {delay['field']}: {exc}") from None
            due_at = shift(base, offset, unit, tzinfo, at)
            described = _describe_offset(offset, unit, base, at)
    except DelayError as exc:
        return DelayPlan("fail", identifier=identifier, reason=f"Step {step}: {exc}")
    shown = _show(due_at.astimezone(tzinfo))
    # In UTC: aware datetimes in a zone compare oddly inside a repeated DST hour.
    due_at = due_at.astimezone(UTC)
    if due_at > now:
        return DelayPlan("park", due_at, identifier, f"Waiting until {shown} ({described}).")
    if delay["mode"] == "fixed":
        return DelayPlan("now", due_at, identifier, "No wait: the delay is zero.")
    if_past = option(delay, "if_past")
    decision = {"run_now": "now", "skip": "skip", "stop": "stop"}[if_past]
    return DelayPlan(
        decision,
        due_at,
        identifier,
        f"The due time {shown} ({described}) has passed; if_past is {if_past}.",
    )


def _number(value, ctx, key):
    if isinstance(value, str) and "{{" in value:
        value = render_value(value, ctx.data)
    if isinstance(value, str):
        value = value.strip()
    if not _is_number(value):
        raise DelayError(f"The {key} {value!r} is not a number.")
    return float(value)


def _describe_offset(offset, unit, base, at):
    if offset == 0:
        where = f"on {_show(base)}"
    else:
        where = f"{abs(offset):g} {unit} {'before' if offset < 0 else 'after'} {_show(base)}"
    return where + (f" at {at:%H:%M}" if at else "")


def _show(moment):
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def park_run(run, step, step_index, plan):
    """Record the parked run; the sweep resumes it at `step_index` once due.

    A run waits on one delay at a time: a pending row left by an earlier
    attempt of the same run (its worker died after parking) is replaced.
    """
    with transaction.atomic():
        ScheduledStep.objects.filter(run=run, status=ScheduledStep.Status.PENDING).update(
            status=ScheduledStep.Status.CANCELLED
        )
        runs.park_run(run, step_index)
        return ScheduledStep.objects.create(
            project_id=run.project_id,
            connector_id=run.connector_id,
            run=run,
            step=step,
            due_at=plan.due_at,
            identifier=plan.identifier,
        )


# --- the sweep -------------------------------------------------------------


def sweep_due_delays(batch_size=SWEEP_BATCH_SIZE, max_batches=SWEEP_MAX_BATCHES):
    """Settle every due delay (up to `max_batches` batches); returns how many were settled."""
    settled = 0
    for _ in range(max_batches):
        count = fire_due_batch(batch_size)
        settled += count
        if count < batch_size:
            break
    return settled


def claim_due(now, batch_size):
    """Lock up to `batch_size` due pending rows, oldest first, skipping rows others hold.

    Must run inside a transaction. SQLite ignores FOR UPDATE: its single
    writer (IMMEDIATE transactions) serialises concurrent sweeps instead.
    """
    return list(
        ScheduledStep.objects.select_for_update(skip_locked=True)
        .filter(status=ScheduledStep.Status.PENDING, due_at__lte=now)
        .order_by("due_at")
        .values_list("pk", "run_id", "step_id", "connector_id")[:batch_size]
    )


def fire_due_batch(batch_size=SWEEP_BATCH_SIZE):
    """Claim one batch and resume its waiting runs, all in one transaction.

    A row whose run is still queued or running (it is being parked right
    now) stays pending for the next sweep; a row whose run has already ended
    cannot resume anything and is marked failed. Returns the rows settled
    (fired or failed).
    """
    with transaction.atomic():
        now = timezone.now()
        ready, ended = fire(claim_due(now, batch_size), now)
    return len(ready) + len(ended)


def fire(rows, now):
    """Fire these claimed rows [(pk, run id, step id, connector id)]: their waiting runs
    are queued to go on at the delayed step (handed to a worker once the transaction
    commits). Returns (the rows fired, the ids of rows whose run had ended, marked failed).
    """
    if not rows:
        return [], []
    statuses = dict(Run.objects.filter(pk__in={row[1] for row in rows}).values_list("pk", "status"))
    ready = [row for row in rows if statuses.get(row[1]) == Run.Status.WAITING]
    ended = [row[0] for row in rows if statuses.get(row[1]) in Run.FINISHED]
    ScheduledStep.objects.filter(pk__in=[row[0] for row in ready]).update(
        status=ScheduledStep.Status.FIRED, fired_at=now
    )
    ScheduledStep.objects.filter(pk__in=ended).update(
        status=ScheduledStep.Status.FAILED, fired_at=now
    )
    indexes = step_indexes({row[2] for row in ready})
    runs.resume_after_delays([(run_id, indexes[step_id]) for _, run_id, step_id, _ in ready])
    return ready, ended


def run_schedules_now(schedules):
    """Fire the pending rows of `schedules` now, whatever their due time, as the sweep
    fires due ones: their runs go on at once, in a worker. Rows the sweep holds are
    skipped (it is firing them), and so are rows whose run is still being parked (the
    sweep fires them once it is). Returns how many runs were resumed."""
    pending = schedules.filter(status=ScheduledStep.Status.PENDING)
    resumed = last = 0
    while True:
        with transaction.atomic():
            rows = list(
                pending.filter(pk__gt=last)
                .select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", "run_id", "step_id", "connector_id")[:SWEEP_BATCH_SIZE]
            )
            if not rows:
                return resumed
            ready, _ = fire(rows, timezone.now())
        resumed += len(ready)
        last = rows[-1][0]


def step_indexes(step_ids):
    """{step id: index of the step among the steps of its connector's version (or of its
    draft)}, for the steps of `step_ids` and their siblings."""
    groups = set(Step.every.filter(pk__in=step_ids).values_list("connector_id", "version_id"))
    if not groups:
        return {}
    siblings = Q()
    for connector_id, version_id in groups:
        siblings |= Q(connector_id=connector_id, version_id=version_id)
    indexes = {}
    counts = {}
    steps = (
        Step.every.filter(siblings)
        .order_by("connector_id", "version_id", "position", "id")
        .values_list("connector_id", "version_id", "id")
    )
    for connector_id, version_id, step_id in steps:
        group = (connector_id, version_id)
        indexes[step_id] = counts.get(group, 0)
        counts[group] = indexes[step_id] + 1
    return indexes


# --- cancelling ------------------------------------------------------------


def pending_delays(connector, identifier):
    """The pending delays of `connector` parked with `identifier`."""
    return ScheduledStep.objects.filter(
        connector=connector,
        identifier=clean_identifier(identifier),
        status=ScheduledStep.Status.PENDING,
    )


def cancel_delays(connector, identifier, reason):
    """Cancel every pending delay of `connector` with `identifier`; returns the count."""
    return cancel_schedules(pending_delays(connector, identifier), reason)


def cancel_schedules(schedules, reason):
    """Cancel the pending rows of `schedules` and stop their runs; returns the count.

    Rows the sweep has already claimed are fired, not cancelled: waiting
    for its lock and re-reading the status settles the race either way.
    """
    pending = schedules.filter(status=ScheduledStep.Status.PENDING)
    cancelled = 0
    while True:
        with transaction.atomic():
            rows = list(
                pending.select_for_update()
                .order_by("pk")
                .values_list("pk", "run_id", "step_id", "connector_id")[:CANCEL_BATCH_SIZE]
            )
            if not rows:
                return cancelled
            ScheduledStep.objects.filter(pk__in=[row[0] for row in rows]).update(
                status=ScheduledStep.Status.CANCELLED
            )
            _stop_cancelled_runs(rows, reason)
        cancelled += len(rows)


def _stop_cancelled_runs(rows, reason):
    waiting = runs.stop_waiting_runs([row[1] for row in rows], reason)
    indexes = step_indexes({row[2] for row in rows})
    RunLog.objects.bulk_create(
        RunLog(
            run_id=run_id,
            kind=RunLog.Kind.STEP,
            step_id=step_id,
            step_position=indexes.get(step_id, 0),
            status=RunLog.Status.STOPPED,
            error=reason,
        )
        for _, run_id, step_id, _ in rows
        if run_id in waiting
    )
