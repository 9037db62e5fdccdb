"""Celery's time limits of the tasks that execute runs, derived from the run lease and checked
at startup (picky/settings.py) against the longest outbound action.

Between them a run is never taken over while its worker still works on it: the worker renews
the run's lease before each action, no action outlasts the soft time limit, and a task stuck
past its hard limit is killed before the lease of its run runs out.
"""

from django.core.exceptions import ImproperlyConfigured

# The soft and hard time limits of a run's task, as parts of the run lease.
SOFT_LIMIT_SHARE = 0.8
HARD_LIMIT_SHARE = 0.9


def longest_outbound_action(cap, lease, run_limit):
    """Seconds an outbound action may take at most: one request (the cap is its deadline), or
    HTTP Request's retries, which stop at half the lease and at the run's time limit
    (actions/http_services.may_retry)."""
    return max(cap, min(lease / 2, run_limit))


def run_task_time_limits(lease, cap, run_limit):
    """(soft, hard) time limits in seconds of the tasks that execute runs. Raises
    ImproperlyConfigured, saying what to change, when the longest outbound action would not
    end before the soft limit."""
    soft, hard = SOFT_LIMIT_SHARE * lease, HARD_LIMIT_SHARE * lease
    longest = longest_outbound_action(cap, lease, run_limit)
    if longest >= soft:
        raise ImproperlyConfigured(
            f"PICKY_OUTBOUND_TIMEOUT_CAP_SECONDS ({cap:g} s) is too long for "
            f"PICKY_RUN_LEASE_SECONDS ({lease:g} s): an outbound request must end before the "
            f"soft time limit of the task running it ({soft:g} s, "
            f"{SOFT_LIMIT_SHARE:.0%} of the lease), or its run would be taken over while it "
            "waits. Lower PICKY_OUTBOUND_TIMEOUT_CAP_SECONDS or raise PICKY_RUN_LEASE_SECONDS."
        )
    return soft, hard
