"""Pointing Celery's publishing at another broker inside one test.

Only the write URL changes and only the app's own pools are dropped: closing
kombu's pools (force_close_all) would close them for good, since kombu keeps
one pool per broker URL for the whole process.
"""

from picky import dispatch
from picky.celery import app


def use_broker_for_publishing(url):
    """Publish to `url` from now on (None: back to the configured broker)."""
    app.conf.broker_write_url = url
    app._pool = None
    app.amqp._producer_pool = None
    dispatch.reset()
