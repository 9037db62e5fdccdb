"""Settings of the test suite: Picky's, with a SECRET_KEY of the suite's own.

The suite runs Picky as a deployment does (DEBUG=false), on PostgreSQL too, where Picky
refuses to start without a key; the processes the tests start (gunicorn, Celery workers)
inherit it from the environment.
"""

import os
from urllib.parse import urlsplit

os.environ.setdefault("SECRET_KEY", "picky-test-suite-key-not-secret-0123456789abcdefghij")

# Under pytest-xdist each process (gw0, gw1, ...) takes the Redis database after the
# previous one's (redis://.../14 gives gw0 14 and gw1 15), so the Celery workers that one
# process starts never take the tasks the other published, nor see its purges. The
# processes a test starts inherit the shifted URL and the mark that it is shifted.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
_broker = urlsplit(os.environ.get("CELERY_BROKER_URL", ""))
if (
    _xdist_worker.startswith("gw")
    and _broker.scheme.startswith("redis")
    and os.environ.get("PICKY_TEST_BROKER_OF") != _xdist_worker
):
    _db = int(_broker.path.strip("/") or 0) + int(_xdist_worker[2:])
    os.environ["CELERY_BROKER_URL"] = _broker._replace(path=f"/{_db}").geturl()
    os.environ["PICKY_TEST_BROKER_OF"] = _xdist_worker

from picky.settings import *  # noqa: E402, F403
