"""Celery tasks of journeys: thin wrappers that call a service."""

from celery import shared_task

from .sequences import sweep


@shared_task(ignore_result=True)
def sweep_sequences():
    sweep.sweep_due_deliveries()
