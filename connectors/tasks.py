"""Celery tasks of the engine: thin wrappers that load ids and call the engine."""

from celery import shared_task

from . import delays, engine, retention


@shared_task(acks_late=True, ignore_result=True)
def process_event(event_id):
    engine.process_event(event_id)


@shared_task(acks_late=True, ignore_result=True)
def process_events(event_ids):
    engine.process_events(event_ids)


@shared_task(acks_late=True, ignore_result=True)
def continue_run(run_id):
    engine.continue_run(run_id)


@shared_task(acks_late=True, ignore_result=True)
def continue_runs(run_ids):
    for run_id in run_ids:
        engine.continue_run(run_id)


@shared_task(ignore_result=True)
def sweep_stuck_runs():
    engine.sweep_stuck()


@shared_task(ignore_result=True)
def prune_expired_history():
    retention.prune_expired()


@shared_task(ignore_result=True)
def sweep_due_delays():
    delays.sweep_due_delays()
