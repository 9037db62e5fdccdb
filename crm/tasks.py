"""Celery tasks of crm: thin wrappers that load ids and call a service."""

from celery import shared_task

from .records import imports
from .records import services as records


@shared_task(acks_late=True, ignore_result=True)
def finish_record_deletion(module_id, criteria, sort, descending, remaining, trigger_workflows):
    """One batch of a deletion too large for the call that asked; the next is its own task."""
    left = records.continue_deletion(
        module_id, criteria, sort, descending, remaining, trigger_workflows
    )
    if left:
        finish_record_deletion.delay(module_id, criteria, sort, descending, left, trigger_workflows)


@shared_task(acks_late=True, ignore_result=True)
def run_record_import(import_id):
    """A CSV import of records, resumed after its last batch if a worker ran it before."""
    imports.run_import(import_id)


@shared_task(ignore_result=True)
def sweep_stuck_imports():
    imports.sweep_stuck_imports()
