"""Simulate: a connector run on a payload, shown and not kept.

Its database effects happen for real in a transaction that is always rolled back, so it
shows their true outputs and changes nothing; its outside effects are only described
(`ActionType.dry_run`), but for the GET and HEAD requests it is asked to send."""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from ..models import Event, Run
from .executor import RunExecutor
from .timeline import log_as_dict


@dataclass
class Simulation:
    status: str = Run.Status.SUCCEEDED
    logs: list = field(default_factory=list)
    context: dict = field(default_factory=dict)
    error: str = ""


class SimulationRolledBack(Exception):
    """Internal: ends a simulation's transaction, undoing every row it wrote."""


def simulate(connector, payload, sends_safe_requests=False, through_step=None):
    """Run `connector`'s draft on `payload` as a dry run: its database effects happen for
    real in a transaction that is rolled back, its outside effects are described; nothing
    is kept or sent, but for GET and HEAD requests with `sends_safe_requests`. With
    `through_step` (an index), the run stops after that step (Test this step)."""
    try:
        with transaction.atomic():
            simulation = simulate_in_transaction(
                connector, payload, sends_safe_requests, through_step
            )
            raise SimulationRolledBack
    except SimulationRolledBack:
        return simulation


def simulate_in_transaction(connector, payload, sends_safe_requests, through_step):
    event = Event(
        pk=None,
        project=connector.project,
        connector=connector,
        payload=payload if isinstance(payload, dict) else {"data": payload},
        method="SIMULATE",
        received_at=timezone.now(),
    )
    run = Run(project=connector.project, connector=connector, event=event)
    executor = RunExecutor(
        run,
        event,
        dry_run=True,
        sends_safe_requests=sends_safe_requests,
        through_step=through_step,
    )
    executor.execute()
    return Simulation(
        status=run.status,
        logs=[log_as_dict(line) for line in executor.timeline.lines],
        context=executor.ctx.data if executor.ctx else {},
        error=run.error,
    )
