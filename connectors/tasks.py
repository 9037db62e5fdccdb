from celery import shared_task

from . import engine


@shared_task(acks_late=True, ignore_result=True)
def process_event(event_id):
    engine.process_event(event_id)
