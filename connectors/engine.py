"""The engine: runs a connector's steps for one event (DESIGN.md "The hot path").

A run walks the steps in order: delay (park the run), filters (skip the
step), iterator (run the actions once per item), then the actions in order.
Every step and action leaves a log line. The database is the source of
truth: a run owns a lease while it executes, the stuck-run sweep re-enqueues
runs whose lease ran out, and an action with outside effects that already
succeeded for the same (run, step, action, iteration) is not repeated.

A run's database work (its row, the effects of database-only actions, its
log lines, its end) commits as one transaction (`RunTransaction`): a run of
database-only actions commits once, and a crash leaves none of it behind, so a
re-run repeats none of its effects. Before an action whose effect leaves the
database (a message, an HTTP call) that transaction commits; the effect's log
line is written as soon as it succeeds, which is what keeps a re-run from
repeating it. An update of a row many runs share (a counter) commits right after
it, or, when nothing later in the run reads its result, happens just before the
run's commit (`ActionType.run_later`): either way the row is locked briefly.

An outside effect is claimed before it starts: its log line is committed as
`sending`, with when its outcome is due, and becomes `ran` or `failed` when it
ends. A run taken over while an effect is under way (its worker died, or was
presumed dead) never starts it again: it waits until the outcome is due, then
records it as lost ("outcome unknown") and follows the action's fallback. Types
that key their effect themselves (a message's idempotency key) need no claim.

How an action runs follows from what its type touches (`ActionType.effect`, see
actions/base.py `Effect`). A simulation (`simulate`) runs the connector in one
transaction that is always rolled back: database effects happen for real there, so
it shows their true outputs and changes nothing; outside effects are only described
(`ActionType.dry_run`).
"""

import json
import logging
import math
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import F, Prefetch, Q
from django.utils import timezone

from actions.base import ActionContext, ActionError, Effect
from actions.models import Action
from actions.registry import get_type
from crm import services as crm_services
from picky.dispatch import enqueue, enqueue_in_chunks
from picky.models import Project
from picky.rows import (
    insert_rows,
    insert_values,
    insert_values_and_keyed_rows,
    insert_values_and_update_row,
    inserted_fields,
    is_written,
    mark_inserted,
    mark_unwritten,
    next_key_sql,
    select_models,
    selected_columns,
    update_row,
)
from picky.templating import render, render_deep, render_value

from . import filters
from .models import Connector, Counter, Event, Run, RunLog, Step
from .services import enqueue_event, note_structure_change

logger = logging.getLogger(__name__)

DEFAULT_ITERATOR_MAX = 500
MAX_RUN_ATTEMPTS = 5
# The database went away (restart, failover, network): not the run's fault. The
# run keeps its lease and the stuck-run sweep retries it; committed effects are
# not repeated.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# What stops the task, not the run: the database gone, or Celery's soft time limit (raised
# wherever the task is, picky/time_limits.py). Its run keeps its lease, and the stuck-run
# sweep retries it as if its worker had died (an outside effect under way stays claimed).
TASK_STOPPED = (*DATABASE_UNAVAILABLE, SoftTimeLimitExceeded)
# A task of several runs starts none after this part of its soft time limit: the rest go
# in a message of their own, so that the run in progress can end before the limit.
RUN_TASK_WINDOW_SHARE = 0.2
# A claimed outside effect's outcome is due this long after its own longest time (the
# request logs written around it).
CLAIM_MARGIN_SECONDS = 5
# How often a run taken over looks whether a claimed effect's outcome has come.
CLAIM_POLL_SECONDS = 1.0
# The key of a claim's outputs that says when its outcome is due.
OUTCOME_DUE = "outcome_due"
# A run never needs its connector's sample (up to a megabyte of JSON): not loaded.
SAMPLE_FIELDS = ("connector__sample_payload", "connector__mapped_paths")
# The event, its connector (but its sample), its project and whether it has a run.
EVENT_FOR_RUN_SHAPES = (
    (Event, tuple(Event._meta.concrete_fields)),
    (
        Connector,
        tuple(
            field
            for field in Connector._meta.concrete_fields
            if f"connector__{field.name}" not in SAMPLE_FIELDS
        ),
    ),
    (Project, tuple(Project._meta.concrete_fields)),
)


@dataclass
class Simulation:
    status: str = Run.Status.SUCCEEDED
    logs: list = field(default_factory=list)
    context: dict = field(default_factory=dict)
    error: str = ""


class RunStopped(Exception):
    """Internal: the run ends here with `status` (stopped, failed or waiting)."""

    def __init__(self, status, error=""):
        super().__init__(error)
        self.status = status
        self.error = error


# Entry points ----------------------------------------------------------------


def process_event(event_id):
    """Create the event's run and execute it; the run, or None when there was nothing
    to do (the event is not queued, or another worker holds its run)."""
    return process_events([event_id])[0]


def process_events(event_ids):
    """Create and execute the run of each event, in order (a Celery task body: a web
    process publishes the events it accepted together); the runs, as process_event.

    On PostgreSQL the runs share one transaction (`RunTransaction(shared=True)`): a run
    of database actions that ends leaves its row, its log lines and its deferred
    shared-row updates to the commit, written there with the other runs' in one
    statement. Should that transaction be rolled back with such runs in it, or lose a
    deadlock, their events are queued again by the rollback, and each is run again in a
    transaction of its own. Past the task's window (`run_task_window`), the events left
    are handed on in a message of their own (their runs are None here).
    """
    started = time.monotonic()
    left_over = []
    loaded = {
        row[0].pk: row
        for row in select_models(
            event_for_run_query(len(event_ids)), list(event_ids), EVENT_FOR_RUN_SHAPES
        )
    }
    shared = None
    if len(event_ids) > 1 and connection.vendor == "postgresql":
        shared = RunTransaction(shared=True)
    runs = [NOT_RUN] * len(event_ids)
    try:
        for position, event_id in enumerate(event_ids):
            if position and time.monotonic() - started > run_task_window():
                left_over = event_ids[position:]
                runs[position:] = [None] * len(left_over)
                break
            runs[position] = run_loaded_event(event_id, loaded.get(event_id), shared)
            if shared is not None and len(shared.handed) >= RUNS_PER_SHARED_COMMIT:
                commit_shared(shared)
        if shared is not None:
            commit_shared(shared)
    except RunsUndone as undone:
        logger.warning(
            "The runs of events %s were undone together; each runs again on its own",
            undone.event_ids,
        )
        for position, event_id in enumerate(event_ids):
            if runs[position] is NOT_RUN or event_id in undone.event_ids:
                runs[position] = run_loaded_event(event_id, loaded.get(event_id), None)
    if left_over:
        from .tasks import process_events as process_events_task

        enqueue(process_events_task, list(left_over))
    return runs


def continue_runs(run_ids):
    """continue_run for each run (a Celery task body); past the task's window, the runs
    left are handed on in a message of their own."""
    started = time.monotonic()
    for position, run_id in enumerate(run_ids):
        if position and time.monotonic() - started > run_task_window():
            enqueue_runs(list(run_ids[position:]))
            return
        continue_run(run_id)


def run_task_window():
    """Seconds a task of several runs starts new ones in (RUN_TASK_WINDOW_SHARE)."""
    return settings.PICKY_RUN_TASK_SOFT_TIME_LIMIT * RUN_TASK_WINDOW_SHARE


def commit_shared(shared):
    """Commit the transaction shared by a message's runs; whatever fails rolls it back
    (and may raise RunsUndone): never left open on the worker's connection."""
    try:
        shared.commit()
    except BaseException as exc:
        with suppress(DATABASE_UNAVAILABLE):
            shared.rollback(exc)
        raise


# Runs that commit together at most: past a few, a commit saves little more, and the
# transaction would hold its events' and contacts' rows longer (a message carries up
# to 100 events).
RUNS_PER_SHARED_COMMIT = 10

# A place in process_events' list of runs not filled yet.
NOT_RUN = object()


def run_loaded_event(event_id, loaded, shared):
    """run_event for a row of event_for_run_query (None: no such event)."""
    if loaded is None:
        return None
    try:
        return run_event(*loaded, shared=shared)
    except TASK_STOPPED:
        raise  # the rest wait for the database (or a new task) too; the sweep hands them out
    except Exception:
        # One event's bad luck does not hold up the others of its message; it stays
        # queued for the stuck-run sweep.
        logger.exception("Event %s could not be run", event_id)
        return None


def run_event(event, connector, project, existing_run_id, shared=None):
    """Create the event's run and execute it, in the transaction `shared` by the runs of
    its message if given; the run, or None (see process_event)."""
    if event.status != Event.Status.QUEUED:
        return None
    if existing_run_id:
        if shared is not None:
            commit_shared(shared)  # a continued run commits as it goes, in transactions of its own
        # A second delivery of the event: continue its run if the lease ran out.
        return continue_run(existing_run_id)
    connector.project = project
    event.connector = connector
    now = timezone.now()
    # The run's row belongs to its transaction: until the run commits, a second
    # delivery of the event waits on the row's unique index, then finds it done.
    run_transaction = shared or RunTransaction()
    run = Run(
        project_id=event.project_id,
        connector=event.connector,
        event=event,
        status=Run.Status.RUNNING,
        started_at=now,
        lease_until=now + lease(),
        attempts=1,
    )
    run_transaction.begin()
    try:
        try:
            handed = hand_event_to_run(event, run)
        except IntegrityError as exc:
            # Two deliveries raced past the check above; the other one created the run
            # (SQLite, where the run's row is INSERTed with the hand-off).
            run_transaction.rollback(exc)
            existing = Run.objects.filter(event=event, replay_of=None).first()
            return continue_run(existing.pk) if existing else None
        if not handed:
            # Another delivery of the event was run meanwhile. A shared transaction
            # stays open for the other runs: the hand-off changed nothing.
            if not run_transaction.shared:
                run_transaction.rollback()
            return None
        run_transaction.new_run = run
        run_transaction.handed.append(event.pk)
        # Here, not in the ingest: the web process answers without walking the payload.
        note_structure_change(event.connector, event.payload or {})
        RunExecutor(run, event, run_transaction=run_transaction).execute()
    except BaseException as exc:
        # Whatever escaped (the database went away, a bug) undoes the run's transaction
        # and the event stays queued. Left open, the transaction would poison the
        # worker's connection for every task after this one.
        with suppress(DATABASE_UNAVAILABLE):
            run_transaction.rollback(exc)
        raise
    return run


def hand_event_to_run(event, run):
    """Mark the event processed (handed to its run, which tells how it went) and give
    the run its key, in the run's transaction; False when the event is no longer queued.

    On PostgreSQL the key comes from the sequence and the run's row is written at the
    run's first commit (`RunExecutor.write_run`), for most runs with their end: one
    INSERT of the finished run instead of an INSERT and an UPDATE of a row with nine
    indexes. Elsewhere the row is INSERTed here. Either way, the event's row stays
    locked until the run commits: a second delivery waits, then finds it processed.
    """
    if connection.vendor != "postgresql":
        if not update_row(
            Event, event.pk, {"status": Event.Status.PROCESSED},
            where={"status": Event.Status.QUEUED},
        ):  # fmt: skip
            return False
        insert_rows([run])
        return True
    params = [Event.Status.PROCESSED.value, event.pk, Event.Status.QUEUED.value]
    with connection.cursor() as cursor:
        cursor.execute(hand_event_to_run_sql(), params)
        row = cursor.fetchone()
    if row is None:
        return False
    run.pk = row[0]
    return True


@cache
def hand_event_to_run_sql():
    return (
        f"UPDATE {connection.ops.quote_name(Event._meta.db_table)} SET status = %s "
        f"WHERE id = %s AND status = %s RETURNING {next_key_sql(Run)}"
    )


@cache
def event_for_run_query(events):
    """The SELECT behind EVENT_FOR_RUN_SHAPES for this many events, written once: the
    ORM took longer to compile it (joins, deferred fields, a subquery) than the run
    took to execute."""
    (_, event_fields), (_, connector_fields), (_, project_fields) = EVENT_FOR_RUN_SHAPES
    quote = connection.ops.quote_name
    runs = quote(Run._meta.db_table)
    return (
        f"SELECT {selected_columns('e', event_fields)}, "
        f"{selected_columns('c', connector_fields)}, {selected_columns('p', project_fields)}, "
        f"(SELECT r.id FROM {runs} r WHERE r.event_id = e.id AND r.replay_of_id IS NULL "
        "LIMIT 1) "
        f"FROM {quote(Event._meta.db_table)} e "
        f"JOIN {quote(Connector._meta.db_table)} c ON c.id = e.connector_id "
        f"JOIN {quote(Project._meta.db_table)} p ON p.id = c.project_id "
        f"WHERE e.id IN ({', '.join(['%s'] * events)})"
    )


def continue_run(run_id):
    """Execute a run from `run.next_step`, if no other worker holds it."""
    now = timezone.now()
    claimed = (
        Run.objects.filter(pk=run_id)
        .filter(
            Q(status=Run.Status.QUEUED)
            | Q(status=Run.Status.RUNNING, lease_until__lt=now)
            | Q(status=Run.Status.RUNNING, lease_until__isnull=True)
        )
        .update(
            status=Run.Status.RUNNING,
            lease_until=now + lease(),
            started_at=now,
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return None
    run = (
        Run.objects.select_related("event", "connector__project", "contact")
        .defer(*SAMPLE_FIELDS)
        .get(pk=run_id)
    )
    run.event.connector = run.connector
    if run.attempts > MAX_RUN_ATTEMPTS:
        finish_run(run, Run.Status.FAILED, f"Gave up after {MAX_RUN_ATTEMPTS} attempts.")
        return run
    RunExecutor(run, run.event).execute()
    return run


def resume_after_delays(resumes):
    """Queue parked runs to go on, each at the step whose delay has elapsed.

    `resumes` is [(run id, step index)]; one UPDATE per distinct step index,
    whatever the number of runs, so a sweep settles a batch of 500 at once.
    """
    by_step = {}
    for run_id, step_index in resumes:
        by_step.setdefault(step_index, []).append(run_id)
    lease_until = timezone.now() + lease()
    for step_index, run_ids in by_step.items():
        Run.objects.filter(pk__in=run_ids).update(
            status=Run.Status.QUEUED,
            next_step=step_index,
            delay_done_step=step_index,
            lease_until=lease_until,
        )
    run_ids = [run_id for run_id, _ in resumes]
    transaction.on_commit(lambda: enqueue_runs(run_ids))


class ReplayRefused(Exception):
    """The event cannot be replayed (it was rejected: there is no payload)."""


def replay_event(event):
    """A new run of `event` from the first step, executed by a worker."""
    if event.status == Event.Status.REJECTED:
        raise ReplayRefused(f"Event {event.pk} was rejected ({event.error}); it has no payload.")
    original = Run.objects.filter(event=event, replay_of=None).first()
    run = Run.objects.create(
        project_id=event.project_id,
        connector_id=event.connector_id,
        event=event,
        replay_of=original,
        status=Run.Status.QUEUED,
        lease_until=timezone.now() + lease(),
    )
    transaction.on_commit(lambda: enqueue_run(run.pk))
    return run


class SimulationRolledBack(Exception):
    """Internal: ends a simulation's transaction, undoing every row it wrote."""


def simulate(connector, payload):
    """Run `connector` on `payload` as a dry run: its database effects happen for real in a
    transaction that is rolled back, its outside effects are described; nothing is kept
    or sent."""
    try:
        with transaction.atomic():
            simulation = simulate_in_transaction(connector, payload)
            raise SimulationRolledBack
    except SimulationRolledBack:
        return simulation


def simulate_in_transaction(connector, payload):
    event = Event(
        pk=None,
        project=connector.project,
        connector=connector,
        payload=payload if isinstance(payload, dict) else {"data": payload},
        method="SIMULATE",
        received_at=timezone.now(),
    )
    run = Run(project=connector.project, connector=connector, event=event)
    executor = RunExecutor(run, event, dry_run=True)
    executor.execute()
    return Simulation(
        status=run.status,
        logs=[log_as_dict(entry) for entry in executor.logs],
        context=executor.ctx.data if executor.ctx else {},
        error=run.error,
    )


# Runs resumed together (a delay sweep's batch) travel in tasks of this many: one
# publish per message costs more than a run, and 10,000 delays may come due at once.
RESUME_CHUNK = 20


def enqueue_runs(run_ids):
    from .tasks import continue_runs

    enqueue_in_chunks(continue_runs, run_ids, RESUME_CHUNK)


def enqueue_run(run_id):
    from .tasks import continue_run as continue_run_task

    enqueue(continue_run_task, run_id)


def lease():
    return timedelta(seconds=settings.PICKY_RUN_LEASE_SECONDS)


# Sweeps ----------------------------------------------------------------------


def sweep_stuck(batch=500):
    """Re-enqueue events and runs left queued/running past their lease."""
    now = timezone.now()
    stale = now - lease()
    event_ids = list(
        Event.objects.filter(status=Event.Status.QUEUED, enqueued_at__lt=stale)
        .order_by("enqueued_at")
        .values_list("pk", flat=True)[:batch]
    )
    if event_ids:
        Event.objects.filter(pk__in=event_ids).update(enqueued_at=now)
        for event_id in event_ids:
            enqueue_event(event_id)
    run_ids = list(
        Run.objects.filter(
            status__in=[Run.Status.QUEUED, Run.Status.RUNNING], lease_until__lt=now
        ).values_list("pk", flat=True)[:batch]
    )
    for run_id in run_ids:
        enqueue_run(run_id)
    return len(event_ids), len(run_ids)


def finish_run(run, status, error=""):
    now = timezone.now()
    run.status = status
    run.error = error
    run.finished_at = now
    Run.objects.filter(pk=run.pk).update(
        status=status, error=error, finished_at=now, lease_until=None
    )
    Event.objects.filter(pk=run.event_id, status=Event.Status.QUEUED).update(
        status=Event.Status.PROCESSED
    )


# The executor ----------------------------------------------------------------


class RunTransaction:
    """The run's database work since its last outside effect, as one transaction.

    One commit per run instead of one per database action: fewer round trips and
    WAL flushes, and the effects, their log lines and the run's end stand or fall
    together. It commits before an outside effect (no message leaves for work that
    could still roll back, no transaction stays open while a server answers) and
    at least every PICKY_RUN_TRANSACTION_SECONDS, so a long run holds its locks briefly.

    `shared`: the runs of a message work in it one after the other (process_events). A
    run that ends unwritten (no commit since it began: database actions only) is
    `ended` without a write: at the commit, the ended runs' deferred shared-row updates
    are applied, then their rows and log lines are INSERTed in one statement. A rollback
    with ended runs in it undoes their work too: it raises RunsUndone with the events
    handed to runs in the transaction, to be run again.
    """

    def __init__(self, shared=False):
        self._atomic = None
        self.began_at = 0.0
        # A run created in this transaction, until it commits.
        self.new_run = None
        self.shared = shared
        self.ended = []  # executors of runs ended in it, written at the commit
        self.handed = []  # events handed to their runs in it

    @property
    def open(self):
        return self._atomic is not None

    def begin(self):
        if self._atomic is None:
            atomic = ExitStack()
            atomic.enter_context(transaction.atomic())
            self._atomic, self.began_at = atomic, time.monotonic()

    def commit(self):
        if self.ended:
            self.write_ended()
        atomic, self._atomic = self._atomic, None
        self.new_run = None
        self.handed = []
        if atomic is not None:
            atomic.close()

    def rollback(self, exc=None):
        atomic, self._atomic = self._atomic, None
        # A shared transaction locks the rows of several runs, in no set order (contacts):
        # PostgreSQL may break a deadlock with another by aborting it. Each run again on
        # its own cannot deadlock.
        lock_race = self.shared and lost_a_lock_race(exc)
        undone = self.handed if self.ended or lock_race else None
        self.new_run, self.ended, self.handed = None, [], []
        if atomic is not None:
            exc = exc or RolledBack()
            atomic.__exit__(type(exc), exc, exc.__traceback__)
        if undone and (lock_race or not isinstance(exc, TASK_STOPPED)):
            raise RunsUndone(undone)

    def write_ended(self):
        """Apply the ended runs' deferred updates, then INSERT their rows and log lines
        in one statement. Whatever fails rolls the transaction back (RunsUndone)."""
        ended, self.ended = self.ended, []
        try:
            deferred = []
            for executor in ended:
                deferred += executor.deferred
                executor.deferred = []
            apply_deferred_effects(deferred)
            log_rows = [row for executor in ended for row in executor.pending_log_rows()]
            run_rows = [(executor.run.pk, executor.run_row()) for executor in ended]
            insert_values_and_keyed_rows(RunLog, log_rows, Run, run_rows)
        except DATABASE_UNAVAILABLE:
            raise
        except Exception as exc:
            self.ended = ended
            self.rollback(exc)
            raise
        for executor in ended:
            mark_inserted(executor.run, executor.run.pk)


class RolledBack(Exception):
    """Internal: the reason given to a transaction rolled back for no error of its own."""


class TransactionBroken(Exception):
    """Internal: a database error inside the run's transaction; its work is rolled back."""


class RunsUndone(BaseException):
    """Internal: a transaction shared by a message's runs was rolled back with the work
    of runs that had ended in it, or lost a deadlock; the events handed to runs in it
    (`event_ids`) are queued again.

    A BaseException: no run's `except Exception` may take it for its own failure."""

    def __init__(self, event_ids):
        super().__init__(event_ids)
        self.event_ids = event_ids


class RunExecutor:
    def __init__(self, run, event, dry_run=False, run_transaction=None):
        self.run = run
        self.event = event
        self.connector = event.connector
        self.project = self.connector.project
        self.dry_run = dry_run
        self.logs = []  # every log line of this execution, in order
        self.pending_logs = []  # not yet written
        self.ctx = None
        self.done_effects = {}
        # Outside effects an earlier attempt claimed and did not see succeed (EffectClaim).
        self.effect_claims = {}
        # Shared-row updates nothing later reads, (log line, effect), applied just
        # before the run's transaction commits.
        self.deferred = []
        self.defers_shared_rows = False
        self.lease_renewed_at = time.monotonic()
        # Counted from this execution's start: a delayed run's wait is not its time.
        self.time_limit = settings.PICKY_RUN_TIME_LIMIT_SECONDS
        self.deadline = self.lease_renewed_at + self.time_limit
        self.tx = run_transaction or RunTransaction()

    def execute(self):
        try:
            return self.execute_steps()
        except BaseException as exc:
            # Never leave the run's transaction open: it would poison the connection
            # for every later task of this worker process. With the database gone the
            # rollback fails too, and the connection is closed either way.
            with suppress(DATABASE_UNAVAILABLE):
                self.tx.rollback(exc)
            raise

    def execute_steps(self):
        definition = connector_definition(self.connector)
        steps = definition.steps
        self.defers_shared_rows = not definition.reads_counters
        if not self.dry_run:
            self.tx.begin()
        try:
            self.ctx = self.build_context(definition)
            if self.run.attempts > 1 and not self.dry_run:
                self.done_effects, self.effect_claims = self.load_done_effects()
            start = self.run.next_step
            for index in range(start, len(steps)):
                self.run.next_step = index
                self.run_step(index, steps[index])
        except LeaseLost as exc:
            logger.warning("Run %s was taken over by another worker; this one stops", self.run.pk)
            self.tx.rollback(exc)
            return self.run
        except RunStopped as stop:
            return self.end(stop.status, stop.error)
        except TASK_STOPPED:
            raise  # rolled back by execute(); the sweep retries the run
        except TransactionBroken as broken:
            self.undo(broken)
            return self.end(Run.Status.FAILED, str(broken))
        except Exception as exc:
            logger.exception("Run %s failed", self.run.pk)
            if isinstance(exc, DatabaseError):
                self.undo(exc)
            return self.end(Run.Status.FAILED, f"Internal error: {type(exc).__name__}: {exc}")
        return self.end(Run.Status.SUCCEEDED)

    def end(self, status, error=""):
        if self.dry_run:
            self.run.status = status
            self.run.error = error
            return self.run
        # The last log lines and the run's end commit with the rest of the run's
        # database work: no crash leaves a half-written end.
        self.tx.begin()
        if self.tx.shared and not is_written(self.run):
            return self.record_end(status, error)  # written at the commit, with the others
        try:
            self.apply_deferred()
        except TransactionBroken as broken:
            self.undo(broken)
            status, error = Run.Status.FAILED, str(broken)
        run = self.record_end(status, error)  # on an error, execute() rolls back
        self.tx.commit()
        return run

    def undo(self, exc):
        """Roll back the run's open transaction after a database error in it: its work
        and log lines since the last commit are undone, the run itself is kept (its event
        handed to it again, its row written at its end, when it was created in that
        transaction) so that it can end failed."""
        new_run = self.tx.new_run
        self.tx.rollback(exc)
        self.pending_logs = []
        self.deferred = []
        self.ctx = None  # its contact may have been created in what was undone
        if new_run is not None:
            self.tx.begin()
            new_run.contact = None
            mark_unwritten(new_run)
            update_row(Event, new_run.event_id, {"status": Event.Status.PROCESSED})
            self.tx.handed.append(new_run.event_id)

    def record_end(self, status, error):
        run = self.run
        run.context = self.saved_context()
        contact = self.ctx.contact if self.ctx else run.contact
        values = {
            "status": status,
            "context": run.context,
            "next_step": run.next_step,
            "contact_id": contact.pk if contact else None,
            "lease_until": None,
        }
        if status != Run.Status.WAITING:
            run.error, run.finished_at = error, timezone.now()
            values.update(error=error, finished_at=run.finished_at)
        if not is_written(run):
            # Nothing committed it yet: its row is written once, as it ends.
            for name, value in values.items():
                setattr(run, name, value)
            if self.tx.shared:
                self.tx.ended.append(self)
            else:
                self.write_run()
            return run
        # Only while this execution still owns the run: a cancel that landed since a
        # delay row was written has stopped it, and that must stand. The last log lines
        # go with it.
        self.update_owned_run(values, log_rows=self.pending_log_rows())
        run.status = status
        return run

    # Loading and context ------------------------------------------------------

    def build_context(self, definition):
        saved = self.run.context or {}
        data = context_namespaces(self.event, run_id=self.run.pk, saved_vars=saved.get("vars"))
        ctx = ActionContext(
            project=self.project,
            data=data,
            connector=self.connector,
            run=None if self.dry_run else self.run,
            dry_run=self.dry_run,
            deadline=self.deadline,
        )
        if self.run.contact_id and not self.dry_run:
            ctx.set_contact(self.run.contact)
        elif self.connector.field_mapping:
            self.map_contact(ctx)
        if definition.reads_counters:
            data["counters"] = dict(
                Counter.objects.filter(project_id=self.project.pk).values_list("name", "value")
            )
        return ctx

    def map_contact(self, ctx):
        mapping = self.connector.field_mapping
        number = render(mapping.get("number", ""), ctx.data)
        name = render(mapping.get("name", ""), ctx.data)
        email = render(mapping.get("email", ""), ctx.data)
        attributes = {
            key: value
            for key, value in render_deep(mapping.get("attributes") or {}, ctx.data).items()
            if value not in (None, "")
        }
        try:
            contact, labels = crm_services.upsert_contact_with_labels(
                self.project, number, name=name, email=email, attributes=attributes
            )
        except crm_services.ContactError as exc:
            raise RunStopped(Run.Status.FAILED, f"Field mapping: {exc}") from exc
        ctx.set_contact(contact, labels)

    def saved_context(self):
        """What a run keeps to resume: its vars (not the payload, which is the event's)."""
        return {"vars": self.ctx.data["vars"]} if self.ctx else {}

    def load_done_effects(self):
        """What earlier attempts of this run did, by (step, action, iteration): the outputs
        of the actions that ran, and the claims of those that did not (see claim_effect)."""
        rows = RunLog.objects.filter(
            run_id=self.run.pk,
            kind=RunLog.Kind.ACTION,
            status__in=[RunLog.Status.RAN, RunLog.Status.SENDING, RunLog.Status.FAILED],
        ).values_list("step_id", "action_id", "iteration", *EffectClaim._fields)
        done, claims = {}, {}
        for step_id, action_id, iteration, *claim in rows:
            claim = EffectClaim(*claim)
            if claim.status == RunLog.Status.RAN:
                done[(step_id, action_id, iteration)] = claim.outputs
            else:
                claims[(step_id, action_id, iteration)] = claim
        return done, claims

    # Steps -------------------------------------------------------------------

    def run_step(self, index, step):
        started = time.perf_counter()
        ctx = self.ctx
        ctx.step = step
        self.stop_if_out_of_time()
        self.keep_transaction()
        self.renew_lease()
        delay_done = self.run.delay_done_step == index
        if step.delay and not delay_done:
            try:
                self.apply_delay(index, step, started)
            except SkipStep:
                return
        passed, details = filters.evaluate(step.filters, ctx.data, self.project.tzinfo)
        # A condition that could not be evaluated (a pattern RE2 cannot take) is false;
        # the step's log line says why.
        note = filters.evaluation_errors(details) if details else ""
        if not passed:
            self.log_step(
                step, index, RunLog.Status.SKIPPED, started, inputs={"filters": details}, error=note
            )
            return
        items = self.iteration_items(step)
        inputs = {"filters": details} if details else {}
        if items is not None:
            total, items = items
            inputs["iterator"] = {"items": total, "run": len(items)}
            if total > len(items):
                capped = f"Iterator capped at {len(items)} of {total} items."
                note = f"{note} {capped}" if note else capped
        try:
            if items is None:
                self.run_actions(step, index, iteration=None)
            else:
                for position, item in enumerate(items):
                    ctx.data["item"], ctx.data["index"] = item, position
                    self.run_actions(step, index, iteration=position)
                ctx.data.pop("item", None)
                ctx.data.pop("index", None)
        except RunStopped as stop:
            status = (
                RunLog.Status.FAILED if stop.status == Run.Status.FAILED else RunLog.Status.STOPPED
            )
            self.log_step(step, index, status, started, inputs=inputs, error=stop.error)
            raise
        self.log_step(step, index, RunLog.Status.RAN, started, inputs=inputs, error=note)

    def apply_delay(self, index, step, started):
        from . import delays

        plan = delays.plan_delay(step, self.ctx)
        inputs = {
            "delay": step.delay,
            "decision": plan.decision,
            "due_at": plan.due_at.isoformat() if plan.due_at else None,
            "identifier": plan.identifier,
        }
        if plan.decision == "now":
            return
        if plan.decision == "skip":
            self.log_step(step, index, RunLog.Status.SKIPPED, started, inputs, plan.reason)
            raise SkipStep
        if plan.decision == "stop":
            self.log_step(step, index, RunLog.Status.STOPPED, started, inputs, plan.reason)
            raise RunStopped(Run.Status.STOPPED, plan.reason)
        if plan.decision == "fail":
            self.log_step(step, index, RunLog.Status.FAILED, started, inputs, plan.reason)
            raise RunStopped(Run.Status.FAILED, plan.reason)
        self.log_step(step, index, RunLog.Status.WAITING, started, inputs)
        if self.dry_run:
            # A simulation shows the wait and goes on as if it had elapsed.
            return
        self.flush_logs()
        delays.park_run(self.run, step, index, plan)
        raise RunStopped(Run.Status.WAITING)

    def iteration_items(self, step):
        """None without an iterator, else (total, items capped at the iterator's max)."""
        if not step.iterator:
            return None
        path = step.iterator.get("path", "")
        value = render_value("{{ " + path + " }}", self.ctx.data) if path else None
        items = value if isinstance(value, list) else ([] if value is None else [value])
        cap = int(step.iterator.get("max") or DEFAULT_ITERATOR_MAX)
        return len(items), items[:cap]

    # Actions -----------------------------------------------------------------

    def run_actions(self, step, index, iteration):
        for action in step.actions.all():
            self.run_action(step, index, action, iteration)

    def run_action(self, step, step_index, action, iteration):
        self.stop_if_out_of_time()
        self.keep_transaction()
        self.renew_lease()
        ctx = self.ctx
        ctx.action, ctx.iteration = action, iteration
        started = time.perf_counter()
        action_type = get_type(action.type)
        log = LogLine(
            kind=RunLog.Kind.ACTION,
            step=step,
            action=action,
            step_position=step_index,
            action_position=action.position,
            iteration=iteration,
            action_type=action.type,
        )
        if action_type is None:
            log.status, log.error = RunLog.Status.FAILED, f"Unknown action type {action.type!r}."
            return self.action_failed(log, action, started)
        done = self.done_effects.get((step.pk, action.pk, iteration))
        if done is not None:
            # Already performed by an earlier attempt of this run: reuse its outputs.
            self.store_outputs(action, done, {})
            return None
        effect = action_type.effect
        described = self.dry_run and effect == Effect.OUTSIDE
        outside = effect == Effect.OUTSIDE and not self.dry_run
        claims_effect = outside and not action_type.effect_is_idempotent
        if claims_effect and (claim := self.effect_claims.get(log.key)) is not None:
            return self.settle_earlier_claim(claim, log, action, action_type, started)
        claimed = False
        # In a simulation every action performed takes a savepoint: an error in one must
        # not break the simulation's transaction.
        in_savepoint = (self.dry_run and not described) or (
            effect in (Effect.DATABASE, Effect.SHARED_ROW)
            and not action_type.effect_is_one_statement
        )
        # Whether a database error in the action leaves the run's transaction usable.
        contained = described or outside or in_savepoint
        try:
            inputs = action_type.render(ctx, action.config)
            log.inputs = action_type.loggable(inputs)
            if described:
                result = action_type.dry_run(ctx, inputs)
            elif in_savepoint:
                # A savepoint: an effect half-done when the action fails is undone and
                # the run goes on. Done, it commits with its log line and the run's end
                # (a simulation's is rolled back with the simulation).
                with transaction.atomic():
                    result = action_type.run(ctx, inputs)
            elif claims_effect:
                claimed = self.claim_effect(log, action_type, inputs)
                result = action_type.run(ctx, inputs)
            elif outside:
                self.commit()
                result = action_type.run(ctx, inputs)
            elif (later := self.deferred_effect(action, action_type, inputs)) is not None:
                return self.defer(log, action_type, later, started)
            else:
                result = action_type.run(ctx, inputs)
        except ActionError as exc:
            log.status, log.error = RunLog.Status.FAILED, exc.message
            return self.action_failed(log, action, started, claimed)
        except (*TASK_STOPPED, TransactionBroken):
            raise
        except Exception as exc:
            logger.exception("Action %s of run %s crashed", action.pk, self.run.pk)
            error = f"Internal error: {type(exc).__name__}: {exc}"
            if not contained and isinstance(exc, DatabaseError):
                raise TransactionBroken(
                    f"{error} (in {action_type.label}; the run's database work since its "
                    "last commit was undone)"
                ) from exc
            log.status, log.error = RunLog.Status.FAILED, error
            return self.action_failed(log, action, started, claimed)
        # An outside effect's log line is written at once: it keeps a re-run from
        # repeating the effect.
        self.action_succeeded(log, action, result, started, write_now=outside, claimed=claimed)
        if effect == Effect.SHARED_ROW and not self.dry_run:
            self.commit()
        return self.stop_if_asked(action_type, result)

    def deferred_effect(self, action, action_type, inputs):
        """The effect of a shared-row update that nothing later in the run reads, to be
        applied before the run commits; None when it must happen now."""
        if (
            action_type.effect != Effect.SHARED_ROW
            or not self.defers_shared_rows
            or (action.config or {}).get("save_as")
        ):
            return None
        return action_type.run_later(self.ctx, inputs)

    def defer(self, log, action_type, effect, started):
        log.status = RunLog.Status.RAN
        log.duration_ms = elapsed_ms(started)
        self.add_log(log)
        self.deferred.append((log, action_type, effect))

    def apply_deferred(self):
        """Perform the deferred shared-row updates; their log lines get their outputs."""
        deferred, self.deferred = self.deferred, []
        apply_deferred_effects(deferred)

    def action_succeeded(self, log, action, result, started, write_now, claimed=False):
        log.outputs = result.outputs
        log.status = RunLog.Status.STOPPED if result.stop else RunLog.Status.RAN
        log.duration_ms = elapsed_ms(started)
        self.store_outputs(action, result.outputs, result.variables)
        if claimed:
            self.settle_own_claim(log)
        else:
            self.add_log(log, write_now=write_now)

    def stop_if_asked(self, action_type, result):
        if result.stop:
            raise RunStopped(Run.Status.STOPPED, f"Stopped by {action_type.label}.")
        return result

    def action_failed(self, log, action, started, claimed=False):
        log.duration_ms = elapsed_ms(started)
        if claimed:
            self.settle_own_claim(log)
        else:
            self.add_log(log)
        return self.follow_fallback(action, log.error)

    def follow_fallback(self, action, error):
        if (action.config or {}).get("fallback") == "continue":
            return None
        raise RunStopped(Run.Status.FAILED, error)

    # Claimed outside effects --------------------------------------------------

    def claim_effect(self, log, action_type, inputs):
        """Commit the action's log line as SENDING, with when its outcome is due, before
        its outside effect starts: a run taken over finds the claim and does not start the
        effect again (settle_earlier_claim). The line goes with the run's commit before
        the effect, in the same statement as the run's other pending lines."""
        due = timezone.now() + timedelta(
            seconds=action_type.effect_seconds(inputs) + CLAIM_MARGIN_SECONDS
        )
        log.status, log.outputs = RunLog.Status.SENDING, {OUTCOME_DUE: due.isoformat()}
        self.add_log(log)
        self.commit()
        return True

    def settle_own_claim(self, log):
        """Turn the claim of `log`'s effect into its outcome. Raises LeaseLost when the run
        was taken over meanwhile and the claim settled by its new execution."""
        if not self.settle_claim(log):
            raise LeaseLost

    def settle_claim(self, log):
        """Give the claimed effect's line `log`'s outcome, if it has none yet (one UPDATE,
        committed at once); whether it had none."""
        log.outputs = jsonable(log.outputs)
        return bool(
            self.claim_line(log.key)
            .filter(status=RunLog.Status.SENDING)
            .update(
                status=log.status,
                outputs=log.outputs,
                error=log.error,
                duration_ms=log.duration_ms,
            )
        )

    def claim_line(self, key):
        step_id, action_id, iteration = key
        return RunLog.objects.filter(
            run_id=self.run.pk,
            kind=RunLog.Kind.ACTION,
            step_id=step_id,
            action_id=action_id,
            iteration=iteration,
        )

    def settle_earlier_claim(self, claim, log, action, action_type, started):
        """An earlier attempt of this run claimed this effect and did not see it succeed: it
        is not started again. Its outcome as that attempt recorded it (waiting for it until
        it is due: that worker may still be at it), or else lost: recorded so, for the
        person reading the run, and the action's fallback followed."""
        claim = self.await_claimed_outcome(log.key, claim)
        if claim.status == RunLog.Status.SENDING:
            log.status, log.inputs = RunLog.Status.FAILED, claim.inputs
            log.outputs = {"outcome": "unknown"}
            log.error = action_type.outcome_lost(claim.inputs or {})
            log.duration_ms = elapsed_ms(started)
            if self.settle_claim(log):
                return self.follow_fallback(action, log.error)
            claim = self.claimed_outcome(log.key)  # recorded by that attempt just now
        if claim.status == RunLog.Status.RAN:
            self.store_outputs(action, claim.outputs, {})
            return None
        return self.follow_fallback(action, claim.error)

    def await_claimed_outcome(self, key, claim):
        """The claim, once it has an outcome or once its outcome is overdue (at most half
        the lease from now: the run's own lease has two thirds of it left at least)."""
        if claim.status != RunLog.Status.SENDING:
            return claim
        self.commit()  # nothing of the run stays locked while it waits
        due = datetime.fromisoformat((claim.outputs or {}).get(OUTCOME_DUE, "1970-01-01Z"))
        give_up = time.monotonic() + settings.PICKY_RUN_LEASE_SECONDS / 2
        while claim.status == RunLog.Status.SENDING:
            left = min((due - timezone.now()).total_seconds(), give_up - time.monotonic())
            if left <= 0:
                break
            time.sleep(min(left, CLAIM_POLL_SECONDS))
            claim = self.claimed_outcome(key)
        return claim

    def claimed_outcome(self, key):
        return EffectClaim(*self.claim_line(key).values_list(*EffectClaim._fields).get())

    def store_outputs(self, action, outputs, variables):
        data_vars = self.ctx.data["vars"]
        save_as = (action.config or {}).get("save_as")
        if save_as:
            data_vars[save_as] = outputs
        data_vars.update(variables)

    # Logs --------------------------------------------------------------------

    def log_step(self, step, index, status, started, inputs=None, error=""):
        self.add_log(
            LogLine(
                kind=RunLog.Kind.STEP,
                step=step,
                step_position=index,
                status=status,
                inputs=inputs,
                error=error,
                duration_ms=elapsed_ms(started),
            )
        )

    def add_log(self, log, write_now=False):
        log.inputs = jsonable(log.inputs)
        log.outputs = jsonable(log.outputs)
        self.logs.append(log)
        if self.dry_run:
            return
        self.pending_logs.append(log)
        if write_now:
            self.flush_logs()

    def flush_logs(self):
        """Write the pending log lines, after the deferred effects they tell of (and the
        run's row, when it is not written yet)."""
        self.apply_deferred()
        if self.dry_run:
            return
        if not is_written(self.run):
            self.write_run()
        elif self.pending_logs:
            insert_values(RunLog, self.pending_log_rows())

    def write_run(self):
        """INSERT the run's row as it stands, with the pending log lines: a new run's row
        is written at its first commit (see hand_event_to_run)."""
        run = self.run
        insert_values_and_keyed_rows(
            RunLog, self.pending_log_rows(), Run, [(run.pk, self.run_row())]
        )
        mark_inserted(run, run.pk)

    def run_row(self):
        """The run's row as it stands, {field attname: value}."""
        run = self.run
        row = {field.attname: getattr(run, field.attname) for field in inserted_fields(Run)}
        row["created_at"] = run.started_at
        return row

    def pending_log_rows(self):
        """The log lines not yet written, as RunLog rows (no longer pending)."""
        lines, self.pending_logs = self.pending_logs, []
        return [line.row(self.run.pk) for line in lines]

    def update_owned_run(self, values, log_rows=()):
        """Update the run's row while this execution owns it (the attempt number is the
        fence), after INSERTing `log_rows`; the number of rows updated, 0 when another
        execution took the run over."""
        return insert_values_and_update_row(
            RunLog, log_rows, Run, self.run.pk, values,
            where={"status": Run.Status.RUNNING, "attempts": self.run.attempts},
        )  # fmt: skip

    def commit(self):
        """Commit the run's database work so far, its log lines included."""
        self.flush_logs()
        self.tx.commit()

    def stop_if_out_of_time(self):
        """Fail the run once this execution has taken longer than PICKY_RUN_TIME_LIMIT_SECONDS:
        a run may not hold a worker (or a Simulate request) indefinitely."""
        now = time.monotonic()
        if now > self.deadline:
            spent = now - self.deadline + self.time_limit
            raise RunStopped(
                Run.Status.FAILED,
                f"The run was stopped after {spent:.1f} s: runs may take at most "
                f"{self.time_limit:g} s (PICKY_RUN_TIME_LIMIT_SECONDS).",
            )

    def keep_transaction(self):
        """A transaction open for the work that follows, committed first when it has
        been open for PICKY_RUN_TRANSACTION_SECONDS (a long run holds its locks briefly)."""
        if self.dry_run:
            return
        longest = settings.PICKY_RUN_TRANSACTION_SECONDS
        if self.tx.open and time.monotonic() - self.tx.began_at > longest:
            self.commit()
        self.tx.begin()

    def renew_lease(self):
        """Keep the lease of a long run, at most a few times per lease period.

        Raises LeaseLost when another worker has taken the run over (this one
        was too slow, or presumed dead): two executions never go on together.
        """
        if self.dry_run:
            return
        period = settings.PICKY_RUN_LEASE_SECONDS
        if time.monotonic() - self.lease_renewed_at > period / 3:
            lease_until = timezone.now() + lease()
            if not is_written(self.run):
                self.run.lease_until = lease_until  # written with the row
            elif not self.update_owned_run({"lease_until": lease_until}):
                raise LeaseLost
            self.lease_renewed_at = time.monotonic()


def apply_deferred_effects(deferred):
    """Perform deferred shared-row updates [(log line, action type, effect)] in the order
    of the rows they lock (the effect's `lock_key`, see ActionType.run_later): runs that
    lock several such rows all lock them in one order, so none waits on another in a
    circle (a deadlock). Their log lines get their outputs."""
    for log, action_type, effect in sorted(deferred, key=deferred_lock_key):
        try:
            log.outputs = jsonable(effect().outputs)
        except ActionError as exc:
            log.status, log.error = RunLog.Status.FAILED, exc.message
        except DATABASE_UNAVAILABLE:
            raise
        except DatabaseError as exc:
            raise TransactionBroken(
                f"Internal error: {type(exc).__name__}: {exc} (in {action_type.label}; "
                "the run's database work since its last commit was undone)"
            ) from exc


def deferred_lock_key(entry):
    return getattr(entry[2], "lock_key", ())


def lost_a_lock_race(exc):
    """Whether PostgreSQL aborted the transaction to break a deadlock (or a serialization
    failure): the database is fine, and the work can be done again."""
    return getattr(getattr(exc, "__cause__", None), "sqlstate", None) in ("40P01", "40001")


@dataclass(slots=True)
class LogLine:
    """A line of a run's timeline as the engine writes it: a RunLog row to be (no model
    instance per line: a run writes several, and Django's are costly to make)."""

    kind: str
    step: Any
    step_position: int
    status: str = ""
    action: Any = None
    action_position: int | None = None
    iteration: int | None = None
    action_type: str = ""
    inputs: Any = None
    outputs: Any = None
    error: str = ""
    duration_ms: float = 0.0

    @property
    def key(self):
        """(step, action, iteration): what a re-run recognises an action's line by."""
        return (self.step.pk, self.action.pk, self.iteration)

    def row(self, run_id):
        return {
            "run_id": run_id,
            "kind": self.kind,
            "step_id": self.step.pk if self.step else None,
            "action_id": self.action.pk if self.action else None,
            "step_position": self.step_position,
            "action_position": self.action_position,
            "iteration": self.iteration,
            "action_type": self.action_type,
            "status": self.status,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }


class EffectClaim(NamedTuple):
    """An action's log line as an earlier attempt of its run left it (load_done_effects)."""

    status: str
    inputs: Any
    outputs: Any
    error: str


class SkipStep(Exception):
    """Internal: a delay decided to skip its step."""


class LeaseLost(Exception):
    """Internal: another worker owns the run now."""


@dataclass(frozen=True)
class ConnectorDefinition:
    """A connector's steps with their enabled actions, in order, and whether any of
    their templates reads `counters` (only then does a run load them)."""

    steps: list
    reads_counters: bool


# A worker's copy of each connector's definition, by (connector id, revision): a run
# reads it without a query until someone edits the connector.
STEPS_CACHE_SIZE = 256
_steps_cache = {}


def connector_definition(connector):
    key = (connector.pk, connector.revision)
    definition = _steps_cache.get(key)
    if definition is None:
        steps = list(
            Step.objects.filter(connector_id=connector.pk).prefetch_related(
                Prefetch("actions", queryset=Action.objects.filter(enabled=True))
            )
        )
        definition = ConnectorDefinition(steps, reads_counters(steps))
        if len(_steps_cache) >= STEPS_CACHE_SIZE:
            _steps_cache.clear()
        _steps_cache[key] = definition
    return definition


def context_namespaces(event, run_id=None, saved_vars=None):
    """The namespaces templates read, for `event` (saved or not) of its connector."""
    connector = event.connector
    now = timezone.now().astimezone(connector.project.tzinfo)
    return {
        "event": event.payload or {},
        "meta": {
            "connector": connector.name,
            "connector_id": connector.pk,
            "project": connector.project.slug,
            "event_id": event.pk,
            "run_id": run_id,
            "received_at": (event.received_at or now).isoformat(),
            "hop_count": event.hop_count,
            "method": event.method,
        },
        "vars": dict(saved_vars or {}),
        "contact": {},
        "counters": {},
        "globals": {},
        "now": {
            "iso": now.isoformat(),
            "date": now.date().isoformat(),
            "time": now.strftime("%H:%M"),
            "timestamp": int(now.timestamp()),
        },
    }


def reads_counters(steps):
    text = json.dumps(
        [[s.filters, s.iterator, s.delay, [a.config for a in s.actions.all()]] for s in steps]
    )
    return "counters" in text


def elapsed_ms(started):
    return round((time.perf_counter() - started) * 1000, 3)


def jsonable(value):
    """A copy of `value` as JSON can store it (dates and decimals as text). A run logs
    over a dozen values, nearly all made of dicts, lists, text and numbers already:
    those are copied as they are, five times faster than through JSON text."""
    try:
        return plain_json_copy(value)
    except NotPlainJson:
        return json.loads(json.dumps(value, default=str))


PLAIN_JSON_SCALARS = (str, int, bool, type(None))


class NotPlainJson(Exception):
    """Internal: a value JSON text would change (a date, a tuple, a number key, NaN)."""


def plain_json_copy(value):
    kind = type(value)
    if kind in PLAIN_JSON_SCALARS or (kind is float and math.isfinite(value)):
        return value
    if kind is dict:
        copy = {}
        for key, item in value.items():
            if type(key) is not str:
                raise NotPlainJson
            copy[key] = plain_json_copy(item)
        return copy
    if kind is list:
        return [plain_json_copy(item) for item in value]
    raise NotPlainJson


def log_as_dict(log):
    return {
        "kind": log.kind,
        "step_position": log.step_position,
        "step_name": str(log.step) if log.step else "",
        "action_position": log.action_position,
        "action_type": log.action_type,
        "iteration": log.iteration,
        "status": log.status,
        "inputs": log.inputs,
        "outputs": log.outputs,
        "error": log.error,
        "duration_ms": log.duration_ms,
    }
