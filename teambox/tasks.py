"""Celery tasks of teambox: thin wrappers that load ids and call a service."""

from celery import shared_task

from . import assignment, broadcasts, inbound, services, snooze
from .queue import enqueue_broadcast_batch


@shared_task(acks_late=True, ignore_result=True)
def deliver_message(message_id):
    services.deliver_message(message_id)


@shared_task(acks_late=True, ignore_result=True)
def send_broadcast_batch(broadcast_id):
    if broadcasts.send_batch(broadcast_id):
        enqueue_broadcast_batch(broadcast_id)


@shared_task(ignore_result=True)
def sweep_messaging():
    services.sweep()


@shared_task(acks_late=True, ignore_result=True)
def process_inbound_delivery(delivery_id):
    inbound.process_delivery(delivery_id)


@shared_task(ignore_result=True)
def sweep_inbound_deliveries():
    inbound.sweep_deliveries()


@shared_task(ignore_result=True)
def prune_inbound_deliveries():
    inbound.prune_deliveries()


@shared_task(ignore_result=True)
def sweep_unanswered_chats():
    assignment.sweep_unanswered_chats()


@shared_task(ignore_result=True)
def wake_snoozed_chats():
    snooze.wake_snoozed_chats()
