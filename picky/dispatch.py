"""Handing work to Celery without ever failing the caller.

The database is the source of truth and Celery only transport: when the
broker is down, the work stays queued in its table and a sweep hands it out
again later. After a failed publish, further publishes are skipped for a few
seconds, so that an outage costs one slow publish per process, not one per
webhook. Web processes publish accepted events in batches (`Batcher`).
"""

import atexit
import logging
import threading
import time

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

_broker_down_until = 0.0
# What a message's headers show of its arguments (Celery's own limit).
ARGSREPR_MAX = 1024


def celery_task(task):
    """`task` itself, or the Celery task of that dotted name ("connectors.tasks.continue_run").

    The code a tasks module calls publishes its tasks by name: the tasks module imports
    that code, so it could not import the tasks module back without a circle. Resolved at
    publish time (a dictionary look-up once the tasks module is loaded), the task keeps
    what it declares (time limits, eager execution in tests)."""
    return import_string(task) if isinstance(task, str) else task


def enqueue(task, *args):
    """Publish `task(*args)` (a task or its name, see celery_task); True when handed to the
    broker, False when left to a sweep."""
    global _broker_down_until
    task = celery_task(task)
    if time.monotonic() < _broker_down_until:
        return False
    try:
        # Our arguments are ids: their plain repr, not Celery's pretty-printer, which cost
        # a tenth of a publish.
        task.apply_async(args, retry=False, argsrepr=repr(args)[:ARGSREPR_MAX], kwargsrepr="{}")
    except Exception as exc:
        _broker_down_until = time.monotonic() + settings.PICKY_BROKER_RETRY_SECONDS
        logger.warning(
            "Broker unavailable (%s); %s%s is left to the sweep; publishing paused for %ss",
            exc, task.name, args, settings.PICKY_BROKER_RETRY_SECONDS,
        )  # fmt: skip
        return False
    return True


def enqueue_in_chunks(task, items, size):
    """Publish `task(chunk)` for each chunk of at most `size` of `items`."""
    for start in range(0, len(items), size):
        enqueue(task, items[start : start + size])


def reset():
    """Forget an earlier outage (tests, and the worker after reconnecting)."""
    global _broker_down_until
    _broker_down_until = 0.0


class Batcher:
    """Publishes `task(items)` for items added by request threads, from a thread of its
    own, each message carrying whatever arrived within `linger` seconds of the first.

    The web processes hand the ids of the events they accepted to one of these: a
    publish costs more CPU than the rest of a webhook's handling, so a storm costs one
    publish per batch instead of one per event, and none is on a request's path.
    Items not yet published when a process is killed stay queued in the database,
    where the stuck sweep finds them.
    """

    def __init__(self, task, linger, max_items=100):
        self.task = celery_task(task)
        self.linger = linger
        self.max_items = max_items
        self.pending = []
        self.arrived = threading.Condition()
        self.thread = None
        atexit.register(self.flush)

    def add(self, item):
        with self.arrived:
            self.pending.append(item)
            if self.thread is None or not self.thread.is_alive():
                # Started here, not at import: a thread does not survive a fork.
                self.thread = threading.Thread(
                    target=self.publish_forever, name=f"publish {self.task.name}", daemon=True
                )
                self.thread.start()
            self.arrived.notify()

    def publish_forever(self):
        while True:
            with self.arrived:
                self.arrived.wait_for(lambda: self.pending)
            time.sleep(self.linger)
            self.flush()

    def flush(self):
        """Publish everything pending now."""
        with self.arrived:
            items, self.pending = self.pending, []
        enqueue_in_chunks(self.task, items, self.max_items)
