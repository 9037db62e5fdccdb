"""Outside effects claimed before they start.

An outside effect's log line is committed as `sending`, with when its outcome is due,
before the effect starts, and becomes `ran` or `failed` when it ends. A run taken over
while an effect is under way (its worker died, or was presumed dead) never starts it
again: it waits until the outcome is due, then records it as lost ("outcome unknown")
and follows the action's fallback. Types whose effect is idempotent (a message's
idempotency key) need no claim.
"""

import time
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.utils import timezone

from ..models import RunLog
from .timeline import elapsed_ms, jsonable

# A claimed outside effect's outcome is due this long after its own longest time (the
# request logs written around it).
CLAIM_MARGIN_SECONDS = 5
# How often a run taken over looks whether a claimed effect's outcome has come.
CLAIM_POLL_SECONDS = 1.0
# The key of a claim's outputs that says when its outcome is due.
OUTCOME_DUE = "outcome_due"


class EffectClaim(NamedTuple):
    """An action's log line as an earlier attempt of its run left it (earlier_attempts)."""

    status: str
    inputs: Any
    outputs: Any
    error: str


def earlier_attempts(run_id):
    """What earlier attempts of the run did, by (step, action, iteration): the outputs of
    the actions that ran or were skipped (a message with no recipient), and the claims of
    those that did not (see mark_claimed)."""
    done_statuses = (RunLog.Status.RAN, RunLog.Status.SKIPPED)
    rows = RunLog.objects.filter(
        run_id=run_id,
        kind=RunLog.Kind.ACTION,
        status__in=[*done_statuses, RunLog.Status.SENDING, RunLog.Status.FAILED],
    ).values_list("step_id", "action_id", "iteration", *EffectClaim._fields)
    done, claims = {}, {}
    for step_id, action_id, iteration, *claim in rows:
        claim = EffectClaim(*claim)
        if claim.status in done_statuses:
            done[(step_id, action_id, iteration)] = claim.outputs
        else:
            claims[(step_id, action_id, iteration)] = claim
    return done, claims


def mark_claimed(line, action_type, inputs):
    """Make the action's log line its effect's claim: `sending`, with when its outcome is
    due. The run commits it before the effect starts, in the same statement as its other
    pending lines."""
    due = timezone.now() + timedelta(
        seconds=action_type.effect_seconds(inputs) + CLAIM_MARGIN_SECONDS
    )
    line.status, line.outputs = RunLog.Status.SENDING, {OUTCOME_DUE: due.isoformat()}


def settle_claim(run_id, line):
    """Give the claimed effect's line `line`'s outcome, if it has none yet (one UPDATE,
    committed at once); whether it had none."""
    line.outputs = jsonable(line.outputs)
    return bool(
        claim_line(run_id, line.key)
        .filter(status=RunLog.Status.SENDING)
        .update(
            status=line.status,
            outputs=line.outputs,
            error=line.error,
            duration_ms=line.duration_ms,
        )
    )


def outcome_of_earlier_claim(run_id, claim, line, action_type, started):
    """An earlier attempt of the run claimed this effect and did not see it succeed: it is
    not started again. Its outcome as that attempt recorded it (waiting for it until it is
    due: that worker may still be at it), or else lost: recorded so, for the person
    reading the run. The caller commits first: nothing of the run stays locked meanwhile."""
    claim = awaited_outcome(run_id, line.key, claim)
    if claim.status != RunLog.Status.SENDING:
        return claim
    line.status, line.inputs = RunLog.Status.FAILED, claim.inputs
    line.outputs = {"outcome": "unknown"}
    line.error = action_type.outcome_lost(claim.inputs or {})
    line.duration_ms = elapsed_ms(started)
    if settle_claim(run_id, line):
        return EffectClaim(line.status, line.inputs, line.outputs, line.error)
    return claimed_outcome(run_id, line.key)  # recorded by that attempt just now


def awaited_outcome(run_id, key, claim):
    """The claim, once it has an outcome or once its outcome is overdue (at most half
    the lease from now: the run's own lease has two thirds of it left at least)."""
    due = datetime.fromisoformat((claim.outputs or {}).get(OUTCOME_DUE, "1970-01-01Z"))
    give_up = time.monotonic() + settings.PICKY_RUN_LEASE_SECONDS / 2
    while claim.status == RunLog.Status.SENDING:
        left = min((due - timezone.now()).total_seconds(), give_up - time.monotonic())
        if left <= 0:
            break
        time.sleep(min(left, CLAIM_POLL_SECONDS))
        claim = claimed_outcome(run_id, key)
    return claim


def claimed_outcome(run_id, key):
    return EffectClaim(*claim_line(run_id, key).values_list(*EffectClaim._fields).get())


def claim_line(run_id, key):
    step_id, action_id, iteration = key
    return RunLog.objects.filter(
        run_id=run_id,
        kind=RunLog.Kind.ACTION,
        step_id=step_id,
        action_id=action_id,
        iteration=iteration,
    )
