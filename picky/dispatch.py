"""Handing work to Celery without ever failing the caller.

The database is the source of truth and Celery only transport: when the
broker is down, the work stays queued in its table and a sweep hands it out
again later. After a failed publish, further publishes are skipped for a few
seconds, so that an outage costs one slow publish per process, not one per
webhook.
"""

import logging
import time

from django.conf import settings

logger = logging.getLogger(__name__)

_broker_down_until = 0.0


def enqueue(task, *args):
    """Publish `task(*args)`; True when handed to the broker, False when left to a sweep."""
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return False
    try:
        task.apply_async(args, retry=False)
    except Exception as exc:
        _broker_down_until = time.monotonic() + settings.PICKY_BROKER_RETRY_SECONDS
        logger.warning(
            "Broker unavailable (%s); %s%s is left to the sweep; publishing paused for %ss",
            exc, task.name, args, settings.PICKY_BROKER_RETRY_SECONDS,
        )  # fmt: skip
        return False
    return True


def reset():
    """Forget an earlier outage (tests, and the worker after reconnecting)."""
    global _broker_down_until
    _broker_down_until = 0.0
