import logging
import os

from celery import Celery, bootsteps
from celery.signals import task_postrun, task_prerun
from celery.worker import state as worker_state
from django.db import close_old_connections

from .broker import use_for_redis_urls

logger = logging.getLogger(__name__)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "picky.settings")

use_for_redis_urls()
app = Celery("picky")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class StalledConsumerWatch(bootsteps.StartStopStep):
    """Reconnect a worker whose broker connection broke while tasks were finishing.

    With the Redis transport, a task that finishes while Redis is down cannot be
    acknowledged, and kombu keeps counting it against the prefetch limit. Once as
    many acks have failed as the limit, the worker stops reading from the broker,
    so it never notices the connection is gone nor that Redis came back: it sits
    idle for good (seen in the `redis_stopped` drill). When the channel has no room
    while the worker holds no task, this raises a connection error in the worker's
    event loop: Celery then reconnects with a fresh channel, and the broker hands
    the unacknowledged messages out again after their visibility timeout (the
    engine does not repeat finished work).
    """

    requires = {"celery.worker.consumer.tasks:Tasks"}
    CHECK_SECONDS = 2.0

    def __init__(self, consumer, **kwargs):
        super().__init__(consumer, **kwargs)
        self.timer_entry = None
        self.stalled_checks = 0

    def start(self, consumer):
        self.stalled_checks = 0
        self.timer_entry = consumer.timer.call_repeatedly(
            self.CHECK_SECONDS, self.check, (consumer,), priority=10
        )

    def stop(self, consumer):
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    def check(self, consumer):
        qos = getattr(getattr(consumer.task_consumer, "channel", None), "qos", None)
        holds_tasks = worker_state.reserved_requests or worker_state.active_requests
        if qos is None or holds_tasks or qos.can_consume():
            self.stalled_checks = 0
            return
        self.stalled_checks += 1
        if self.stalled_checks >= 2:
            self.stalled_checks = 0
            logger.warning(
                "No room to take tasks while holding none (acks lost in a broker outage): "
                "reconnecting to the broker"
            )
            # One of the transport's connection errors: the event loop lets those through.
            error = next(iter(consumer.connection_errors), ConnectionError)
            raise error("stalled consumer: acknowledgements were lost")


app.steps["consumer"].add(StalledConsumerWatch)


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(task=None, **kwargs):
    """Keep database connections across tasks as Django keeps them across requests:
    closed when broken or older than CONN_MAX_AGE. (Celery's own handling, turned off
    with CELERY_DB_REUSE_MAX, closes them around every task: one new PostgreSQL
    connection per run, which cost more than the run itself.)"""
    if task is not None and task.request.is_eager:
        # Run in the caller's process, inside its connection (and maybe its transaction).
        return
    close_old_connections()
