"""Celery tasks of webhooks: thin wrappers that load ids and call a service."""

from celery import shared_task

from . import deliveries


@shared_task(acks_late=True, ignore_result=True)
def deliver(delivery_id):
    deliveries.deliver(delivery_id)


@shared_task(ignore_result=True)
def sweep_deliveries():
    deliveries.sweep()
