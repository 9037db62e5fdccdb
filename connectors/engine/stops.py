"""How an execution stops before its last step: the run ends early (RunStopped), another
worker owns it now (LeaseLost), its transaction broke (TransactionBroken), or the task
itself stops (TASK_STOPPED) and the run is left to the stuck-run sweep."""

from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError

# The database went away (restart, failover, network): not the run's fault. The
# run keeps its lease and the stuck-run sweep retries it; committed effects are
# not repeated.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# What stops the task, not the run: the database gone, or Celery's soft time limit (raised
# wherever the task is, picky/time_limits.py). Its run keeps its lease, and the stuck-run
# sweep retries it as if its worker had died (an outside effect under way stays claimed).
TASK_STOPPED = (*DATABASE_UNAVAILABLE, SoftTimeLimitExceeded)


class RunStopped(Exception):
    """The run ends here with `status` (stopped, failed or waiting)."""

    def __init__(self, status, error=""):
        super().__init__(error)
        self.status = status
        self.error = error


class LeaseLost(Exception):
    """Another worker owns the run now: this execution stops without a word."""


class TransactionBroken(Exception):
    """A database error inside the run's transaction; its work is rolled back."""
