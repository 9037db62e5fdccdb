"""The engine's entry points, what the Celery tasks call: an event's run created and
executed, a run continued (a delay elapsed, a lease ran out), stuck events and runs handed
out again (a replay or a resumption: replay.py).

A message's runs may share one transaction (`RunTransaction(shared=True)`, on
PostgreSQL): see process_events.
"""

import logging
import time

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from .. import queries, runs
from ..models import Event, Run
from ..queue import enqueue_event, enqueue_events, enqueue_run, enqueue_runs
from ..services import note_structure_change
from .executor import RunExecutor
from .stops import TASK_STOPPED
from .transaction import RunsUndone, RunTransaction, commit_shared

logger = logging.getLogger(__name__)

MAX_RUN_ATTEMPTS = 5
# A task of several runs starts none after this part of its soft time limit: the rest go
# in a message of their own, so that the run in progress can end before the limit.
RUN_TASK_WINDOW_SHARE = 0.2
# Runs that commit together at most: past a few, a commit saves little more, and the
# transaction would hold its events' and contacts' rows longer (a message carries up
# to 100 events).
RUNS_PER_SHARED_COMMIT = 10
# A place in process_events' list of runs not filled yet.
NOT_RUN = object()


def process_event(event_id):
    """Create the event's run and execute it; the run, or None when there was nothing
    to do (the event is not queued, or another worker holds its run)."""
    return process_events([event_id])[0]


def process_events(event_ids):
    """Create and execute the run of each event, in order (a Celery task body: a web
    process publishes the events it accepted together); the runs, as process_event.

    On PostgreSQL the runs share one transaction (`RunTransaction(shared=True)`): a run
    of database actions that ends hands its end to the commit (its row, its log lines and
    its deferred shared-row updates), written there with the other runs' in one
    statement. Should that transaction be rolled back with such runs in it, or lose a
    deadlock, their events are queued again by the rollback, and each is run again in a
    transaction of its own. Past the task's window (`run_task_window`), the events left
    are handed on in a message of their own (their runs are None here).
    """
    started = time.monotonic()
    left_over = []
    loaded = queries.events_for_runs(event_ids)
    shared = None
    if len(event_ids) > 1 and queries.runs_can_share_a_commit():
        shared = RunTransaction(shared=True)
    done = [NOT_RUN] * len(event_ids)
    try:
        for position, event_id in enumerate(event_ids):
            if position and time.monotonic() - started > run_task_window():
                left_over = event_ids[position:]
                done[position:] = [None] * len(left_over)
                break
            done[position] = run_loaded_event(event_id, loaded.get(event_id), shared)
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
            if done[position] is NOT_RUN or event_id in undone.event_ids:
                done[position] = run_loaded_event(event_id, loaded.get(event_id), None)
    if left_over:
        enqueue_events(left_over)
    return done


def continue_runs(run_ids):
    """continue_run for each run (a Celery task body); past the task's window, the runs
    left are handed on in a message of their own."""
    started = time.monotonic()
    for position, run_id in enumerate(run_ids):
        if position and time.monotonic() - started > run_task_window():
            enqueue_runs(run_ids[position:])
            return
        continue_run(run_id)


def run_task_window():
    """Seconds a task of several runs starts new ones in (RUN_TASK_WINDOW_SHARE)."""
    return settings.PICKY_RUN_TASK_SOFT_TIME_LIMIT * RUN_TASK_WINDOW_SHARE


def run_loaded_event(event_id, loaded, shared):
    """run_event for a row of queries.events_for_runs (None: no such event)."""
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
    # The run's row belongs to its transaction: until the run commits, a second
    # delivery of the event waits on the row's unique index, then finds it done.
    run_transaction = shared or RunTransaction()
    run = runs.new_run(event)
    run_transaction.begin()
    try:
        try:
            handed = runs.hand_event_to_run(event, run)
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
        run_transaction.rollback_quietly(exc)
        raise
    return run


def continue_run(run_id):
    """Execute a run from `run.next_step`, if no other worker holds it."""
    run = runs.claim_run(run_id)
    if run is None:
        return None
    if run.attempts > MAX_RUN_ATTEMPTS:
        runs.end_run(run, Run.Status.FAILED, f"Gave up after {MAX_RUN_ATTEMPTS} attempts.")
        return run
    RunExecutor(run, run.event).execute()
    return run


def sweep_stuck(batch=500):
    """Re-enqueue events and runs left queued/running past their lease."""
    now = timezone.now()
    stale = now - runs.lease()
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
