"""Celery tasks of journeys: thin wrappers that call a service."""

from celery import shared_task

from . import reminders
from .flows import services as flow_services
from .sequences import sweep


@shared_task(ignore_result=True)
def sweep_sequences():
    sweep.sweep_due_deliveries()


@shared_task(ignore_result=True)
def end_silent_flows():
    flow_services.end_silent_flows()


@shared_task(ignore_result=True)
def notify_due_reminders():
    reminders.notify_due_reminders()
