"""Celery tasks of the engine: thin wrappers that load ids and call the engine."""

from celery import shared_task
from django.conf import settings

from . import delays, engine, retention

# The tasks that execute runs stop at these (picky/time_limits.py). Celery sends them with
# each message: the publishing process's settings count (a deployment's processes share them).
RUN_TASK_TIME_LIMITS = {
    "soft_time_limit": settings.PICKY_RUN_TASK_SOFT_TIME_LIMIT,
    "time_limit": settings.PICKY_RUN_TASK_TIME_LIMIT,
}


@shared_task(acks_late=True, ignore_result=True, **RUN_TASK_TIME_LIMITS)
def process_event(event_id):
    engine.process_event(event_id)


@shared_task(acks_late=True, ignore_result=True, **RUN_TASK_TIME_LIMITS)
def process_events(event_ids):
    engine.process_events(event_ids)


@shared_task(acks_late=True, ignore_result=True, **RUN_TASK_TIME_LIMITS)
def continue_run(run_id):
    engine.continue_run(run_id)


@shared_task(acks_late=True, ignore_result=True, **RUN_TASK_TIME_LIMITS)
def continue_runs(run_ids):
    engine.continue_runs(run_ids)


@shared_task(ignore_result=True)
def sweep_stuck_runs():
    engine.sweep_stuck()


@shared_task(ignore_result=True)
def prune_expired_history():
    retention.prune_expired()


@shared_task(ignore_result=True)
def sweep_due_delays():
    delays.sweep_due_delays()
