from celery import shared_task

from . import alerts


@shared_task(acks_late=True, ignore_result=True)
def send_alert_emails():
    alerts.send_due_alerts()
