"""An execution's hold on its run: the lease that tells other workers the run is taken
(renewed a few times per lease period while the run goes on) and the run's time limit."""

import time

from django.conf import settings

from .. import runs
from ..models import Run
from .stops import LeaseLost, RunStopped


class RunHold:
    def __init__(self, run, simulating=False):
        self.run = run
        self.simulating = simulating
        self.lease_renewed_at = time.monotonic()
        # Counted from this execution's start: a delayed run's wait is not its time.
        self.time_limit = settings.PICKY_RUN_TIME_LIMIT_SECONDS
        self.deadline = self.lease_renewed_at + self.time_limit

    def stop_if_out_of_time(self):
        """Fail the run once this execution has taken longer than PICKY_RUN_TIME_LIMIT_SECONDS:
        a run may not hold a worker (or a Simulate request) indefinitely."""
        now = time.monotonic()
        if now > self.deadline:
            spent = now - self.deadline + self.time_limit
            raise RunStopped(
                Run.Status.FAILED,
                f"The run was stopped after {spent:.1f} s: runs may take at most "
                f"{self.time_limit:g} s (PICKY_RUN_TIME_LIMIT_SECONDS).",
            )

    def renew_lease(self):
        """Keep the lease of a long run, at most a few times per lease period.

        Raises LeaseLost when another worker has taken the run over (this one
        was too slow, or presumed dead): two executions never go on together.
        """
        if self.simulating:
            return
        period = settings.PICKY_RUN_LEASE_SECONDS
        if time.monotonic() - self.lease_renewed_at > period / 3:
            if not runs.renew_lease(self.run):
                raise LeaseLost
            self.lease_renewed_at = time.monotonic()
