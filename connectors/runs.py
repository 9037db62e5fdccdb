"""A run's lifecycle: the one writer of a run's status, lease and end.

A run is created running with its event's hand-off, or queued (a replay); it is claimed
by a worker whose lease then guards it, parks on a delay (waiting) and is queued again
when the delay is due, and ends succeeded, failed or stopped. Everything that moves a
run along asks this module; the engine's executor only decides what the run's end is.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import Run
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
