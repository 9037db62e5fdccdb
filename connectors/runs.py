"""A run's lifecycle: the one writer of a run's status, lease and end.

A run is created running with its event's hand-off, or queued (a replay, a resumption);
it is claimed by a worker whose lease then guards it, parks on a delay (waiting) and is
queued again when the delay is due, and ends succeeded, failed or stopped. Everything that moves a
run along asks this module; the engine's executor only decides what the run's end is.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from . import queries
from .models import Event, Run
from .queue import enqueue_runs


def lease():
    """How long a worker owns a run it claims before others may take it over."""
    return timedelta(seconds=settings.PICKY_RUN_LEASE_SECONDS)


def park_run(run, step_index):
    """The run waits on the delay of step `step_index`: it resumes there."""
    run.next_step = step_index
    Run.objects.filter(pk=run.pk).update(next_step=step_index)


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


def stop_waiting_runs(run_ids, reason):
    """Stop those of these runs that wait on a delay, for `reason`; the ids stopped."""
    waiting = set(
        Run.objects.filter(pk__in=run_ids, status=Run.Status.WAITING).values_list("pk", flat=True)
    )
    Run.objects.filter(pk__in=waiting).update(
        status=Run.Status.STOPPED, finished_at=timezone.now(), error=reason
    )
    return waiting


def new_run(event):
    """The run of `event`, running from now under this worker's lease; its row is written
    with the event's hand-off (hand_event_to_run) or at its first commit."""
    now = timezone.now()
    return Run(
        project_id=event.project_id,
        connector=event.connector,
        version_id=event.connector.live_version_id,
        event=event,
        status=Run.Status.RUNNING,
        started_at=now,
        lease_until=now + lease(),
        attempts=1,
    )


def hand_event_to_run(event, run):
    """Mark the event processed (handed to its run, which tells how it went) and give
    the run its key, in the run's transaction; False when the event is no longer queued.

    On PostgreSQL the key comes from the sequence and the run's row is written at the
    run's first commit (`insert_runs`), for most runs with their end: one INSERT of the
    finished run instead of an INSERT and an UPDATE of a row with nine indexes. Elsewhere
    the row is INSERTed here. Either way, the event's row stays locked until the run
    commits: a second delivery waits, then finds it processed.
    """
    return queries.hand_event_to_run(event, run)


def hand_event_again(run):
    """After a rollback undid the hand-off of a run created in it: the event is handed to
    the run again, whose row is written at its end (insert_runs)."""
    run.contact = None
    queries.mark_unwritten(run)
    Event.objects.filter(pk=run.event_id).update(status=Event.Status.PROCESSED)


def claim_run(run_id):
    """The run, claimed by this worker (its lease taken, one more attempt counted) when
    it is queued or its lease ran out; None when another worker holds it."""
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
        .defer(*queries.SAMPLE_FIELDS)
        .get(pk=run_id)
    )
    run.event.connector = run.connector
    return run


def renew_lease(run):
    """Keep this worker's lease of `run` for another period; False when another worker
    took the run over meanwhile."""
    lease_until = timezone.now() + lease()
    if not is_written(run):
        run.lease_until = lease_until  # written with the row
        return True
    return bool(update_owned_run(run, {"lease_until": lease_until}))


def end_run(run, status, error=""):
    """End a run no execution holds (one given up on)."""
    now = timezone.now()
    run.status, run.error, run.finished_at = status, error, now
    Run.objects.filter(pk=run.pk).update(
        status=status, error=error, finished_at=now, lease_until=None
    )
    Event.objects.filter(pk=run.event_id, status=Event.Status.QUEUED).update(
        status=Event.Status.PROCESSED
    )


def end_values(run, status, error, context, contact_id):
    """The values of the row of `run` ending (or parking, `waiting`) with `status`."""
    values = {
        "status": status,
        "context": context,
        "next_step": run.next_step,
        "contact_id": contact_id,
        "lease_until": None,
    }
    if status != Run.Status.WAITING:
        values.update(error=error, finished_at=timezone.now())
    return values


def create_replay(event):
    """A new run of `event` from its first step, on its connector's live version, queued."""
    return Run.objects.create(
        project_id=event.project_id,
        connector_id=event.connector_id,
        version_id=event.connector.live_version_id,
        event=event,
        replay_of=Run.objects.filter(event=event, replay_of=None).first(),
        status=Run.Status.QUEUED,
        lease_until=timezone.now() + lease(),
    )


def create_resume(run):
    """A new run of `run`'s event that goes on where `run` ended: at its step, with its vars,
    contact and elapsed delay, queued. It names the event's first run as the one it
    replays and the first run of the chain it continues (`resume_of`)."""
    return Run.objects.create(
        project_id=run.project_id,
        connector_id=run.connector_id,
        event_id=run.event_id,
        replay_of_id=run.replay_of_id or run.pk,
        resume_of_id=run.resume_of_id or run.pk,
        version_id=run.version_id,
        contact_id=run.contact_id,
        context=run.context,
        next_step=run.next_step,
        delay_done_step=run.delay_done_step,
        status=Run.Status.QUEUED,
        lease_until=timezone.now() + lease(),
    )


def is_written(run):
    """Whether the run's row is in the database (in this transaction at least): a new
    run's row is written at its first commit."""
    return queries.is_written(run)


def insert_runs(new_runs):
    """INSERT the rows of runs not written yet, as they stand, with their log lines
    [(run, log rows)]."""
    queries.insert_runs(new_runs)


def write_ends(ends):
    """Write the ends of runs [(run, values of its row, log rows)]: the rows of runs not
    written yet are INSERTed as they end, with their log lines; those written already
    are updated while their execution still owns them (a cancel that landed since a delay
    row was written has stopped the run, and that must stand)."""
    new_runs = []
    for run, values, rows in ends:
        for name, value in values.items():
            setattr(run, name, value)
        if is_written(run):
            update_owned_run(run, values, rows)
        else:
            new_runs.append((run, rows))
    if new_runs:
        insert_runs(new_runs)


def update_owned_run(run, values, log_rows=()):
    """Update the run's row while this execution owns it (the attempt number is the
    fence), after INSERTing `log_rows`; the number of rows updated, 0 when another
    execution took the run over."""
    return queries.update_run_and_insert_logs(
        run, values, log_rows, where={"status": Run.Status.RUNNING, "attempts": run.attempts}
    )
