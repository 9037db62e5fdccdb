"""Settings of the test suite: Picky's, with a SECRET_KEY of the suite's own.

The suite runs Picky as a deployment does (DEBUG=false), on PostgreSQL too, where Picky
refuses to start without a key; the processes the tests start (gunicorn, Celery workers)
inherit it from the environment.
"""

import os

os.environ.setdefault("SECRET_KEY", "picky-test-suite-key-not-secret-0123456789abcdefghij")

from picky.settings import *  # noqa: E402, F403
