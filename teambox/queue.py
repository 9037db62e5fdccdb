"""Handing teambox's work to the workers: its tasks, published by name.

teambox/tasks.py imports the services, broadcasts and inbound modules, and they publish
those tasks: naming them here (picky.dispatch.celery_task) keeps the modules free of a
circle. During a broker outage the work stays queued in the database, where the sweeps
find it.
"""

from picky.dispatch import enqueue

DELIVER_MESSAGE = "teambox.tasks.deliver_message"
SEND_BROADCAST_BATCH = "teambox.tasks.send_broadcast_batch"
PROCESS_INBOUND_DELIVERY = "teambox.tasks.process_inbound_delivery"


def enqueue_message(message_id):
    """Hand a queued outbound message to a worker, which sends it."""
    enqueue(DELIVER_MESSAGE, message_id)


def enqueue_broadcast_batch(broadcast_id):
    """Hand the broadcast's next batch to a worker."""
    enqueue(SEND_BROADCAST_BATCH, broadcast_id)


def enqueue_inbound_delivery(delivery_id):
    """Hand a stored channel webhook (InboundDelivery) to a worker, which stores its items."""
    enqueue(PROCESS_INBOUND_DELIVERY, delivery_id)
