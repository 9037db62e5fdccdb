"""Per-connector statistics over the last 24 hours and the last 30 days.

Four aggregate queries whatever the volume: the steps (and their published copies), the
events, the runs and the step log lines, each counted for both windows at once with
filtered aggregates.
"""

from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from .models import Event, Run, RunLog, Step

WINDOWS = {"24h": timedelta(hours=24), "30d": timedelta(days=30)}
RUN_OUTCOMES = (Run.Status.SUCCEEDED.value, Run.Status.FAILED.value, Run.Status.STOPPED.value)
# A step "passed" when its filter let the run through, whatever its actions did then.
STEP_PASSED = (RunLog.Status.RAN, RunLog.Status.FAILED, RunLog.Status.STOPPED)


def connector_stats(connector, now=None):
    """Counts per window: {"24h": {...}, "30d": {...}}.

    Each window holds `events` (received, incl. rejected), `rejected`,
    `succeeded`, `failed`, `stopped` (runs created in the window) and `steps`:
    [{"id", "position", "name", "passed", "skipped"}] in step order.
    """
    now = now or timezone.now()
    since = {window: now - length for window, length in WINDOWS.items()}
    oldest = min(since.values())

    def per_window(field, condition=None):
        aggregates = {}
        for window, start in since.items():
            in_window = Q(**{f"{field}__gt": start, f"{field}__lte": now})
            aggregates[window] = in_window if condition is None else in_window & condition
        return aggregates

    event_counts = Event.objects.filter(
        connector=connector, received_at__gt=oldest, received_at__lte=now
    ).aggregate(
        **{
            f"{name}_{window}": Count("id", filter=condition)
            for name, extra in (("events", None), ("rejected", Q(status=Event.Status.REJECTED)))
            for window, condition in per_window("received_at", extra).items()
        }
    )
    run_counts = Run.objects.filter(
        connector=connector, created_at__gt=oldest, created_at__lte=now
    ).aggregate(
        **{
            f"{status}_{window}": Count("id", filter=condition)
            for status in RUN_OUTCOMES
            for window, condition in per_window("created_at", Q(status=status)).items()
        }
    )
    # The draft's steps, and the published versions' copies of them, which runs log: counted
    # as the draft steps they were copied from.
    every_step = list(
        Step.every.filter(connector=connector)
        .order_by("position", "id")
        .values("id", "position", "name", "version_id", "origin_id")
    )
    steps = [step for step in every_step if step["version_id"] is None]
    draft_of = {step["id"]: step["id"] for step in steps}
    draft_of.update(
        (step["id"], step["origin_id"]) for step in every_step if step["origin_id"] in draft_of
    )
    step_counts = {}
    for row in (
        RunLog.objects.filter(
            kind=RunLog.Kind.STEP,
            step_id__in=list(draft_of),
            created_at__gt=oldest,
            created_at__lte=now,
        )
        .values("step_id")
        .annotate(
            **{
                f"{name}_{window}": Count("id", filter=condition)
                for name, statuses in (
                    ("passed", STEP_PASSED),
                    ("skipped", [RunLog.Status.SKIPPED]),
                )
                for window, condition in per_window("created_at", Q(status__in=statuses)).items()
            }
        )
    ):
        counts = step_counts.setdefault(draft_of[row.pop("step_id")], {})
        for key, count in row.items():
            counts[key] = counts.get(key, 0) + count

    stats = {}
    for window in WINDOWS:
        stats[window] = {
            "events": event_counts[f"events_{window}"],
            "rejected": event_counts[f"rejected_{window}"],
            **{status: run_counts[f"{status}_{window}"] for status in RUN_OUTCOMES},
            "steps": [
                {
                    "id": step["id"],
                    "position": step["position"],
                    "name": step["name"] or f"Step {number}",
                    "passed": step_counts.get(step["id"], {}).get(f"passed_{window}", 0),
                    "skipped": step_counts.get(step["id"], {}).get(f"skipped_{window}", 0),
                }
                for number, step in enumerate(steps, start=1)
            ],
        }
    return stats
