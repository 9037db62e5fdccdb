"""Celery's time limits of the tasks that execute runs, derived from the run lease: above the
longest outbound action, below the lease; Picky refuses to start when they cannot be."""

from tests.picky.test_settings import fresh_process, setting_in_a_fresh_process


def test_the_limits_are_parts_of_the_lease():
    shown = setting_in_a_fresh_process(
        "PICKY_RUN_TASK_SOFT_TIME_LIMIT, settings.PICKY_RUN_TASK_TIME_LIMIT",
        PICKY_RUN_LEASE_SECONDS="300",
    )
    assert shown.stdout.strip() == "240.0 270.0", shown.stderr


def test_an_outbound_cap_the_lease_cannot_hold_is_refused_at_startup():
    started = fresh_process(
        "-c",
        "import django; django.setup()",
        PICKY_RUN_LEASE_SECONDS="60",
        PICKY_OUTBOUND_TIMEOUT_CAP_SECONDS="50",
    )
    assert started.returncode != 0
    assert (
        "PICKY_OUTBOUND_TIMEOUT_CAP_SECONDS (50 s) is too long for PICKY_RUN_LEASE_SECONDS "
        "(60 s): an outbound request must end before the soft time limit of the task running "
        "it (48 s, 80% of the lease), or its run would be taken over while it waits. Lower "
        "PICKY_OUTBOUND_TIMEOUT_CAP_SECONDS or raise PICKY_RUN_LEASE_SECONDS."
    ) in started.stderr
