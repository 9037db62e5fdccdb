"""Running one action of a step: how follows from what its type touches
(`ActionType.effect`, actions/base.py `Effect`).

A database effect commits with the run's transaction; inside a savepoint unless it is
one statement, so that one half done is undone when the action fails and the run goes
on. Before an outside effect (a message, an HTTP call) the run's transaction commits;
the effect's log line is written as soon as it succeeds, which is what keeps a re-run
from repeating it, and it is claimed before it starts (claims.py) unless the effect is
idempotent. An update of a row many runs share (a counter) commits right after it, or,
when nothing later in the run reads its result, happens just before the run's commit
(`ActionType.run_later`): either way the row is locked briefly. A simulation runs
database effects for real (and rolls them back, simulation.py) and describes outside
ones (`ActionType.dry_run`).
"""

import logging
import time

from django.db import DatabaseError, transaction

from actions.base import ActionError, Effect
from actions.registry import get_type

from ..models import Run, RunLog
from . import claims
from .stops import DATABASE_UNAVAILABLE, TASK_STOPPED, LeaseLost, RunStopped, TransactionBroken
from .timeline import LogLine, elapsed_ms, jsonable

logger = logging.getLogger(__name__)


class ActionRunner:
    """The part of a run's execution that runs its actions (RunExecutor is built on it):
    it reads the execution's `run`, `ctx`, `dry_run` and `timeline`, and asks it to
    `commit`, `keep_transaction` and `add_log`."""

    def __init__(self):
        self.done_effects = {}
        # Outside effects an earlier attempt claimed and did not see succeed (EffectClaim).
        self.effect_claims = {}
        # Shared-row updates nothing later reads, (log line, action type, effect), applied
        # just before the run's transaction commits.
        self.deferred = []
        self.defers_shared_rows = False

    def load_earlier_attempts(self):
        self.done_effects, self.effect_claims = claims.earlier_attempts(self.run.pk)

    def run_actions(self, step, index, iteration):
        for action in step.actions.all():
            self.run_action(step, index, action, iteration)

    def run_action(self, step, step_index, action, iteration):
        self.hold.stop_if_out_of_time()
        self.keep_transaction()
        self.hold.renew_lease()
        ctx = self.ctx
        ctx.action, ctx.iteration = action, iteration
        started = time.perf_counter()
        action_type = get_type(action.type)
        log = LogLine(
            kind=RunLog.Kind.ACTION,
            step=step,
            action=action,
            step_position=step_index,
            action_position=action.position,
            iteration=iteration,
            action_type=action.type,
        )
        if action_type is None:
            log.status, log.error = RunLog.Status.FAILED, f"Unknown action type {action.type!r}."
            return self.action_failed(log, action, started)
        done = self.done_effects.get((step.pk, action.pk, iteration))
        if done is not None:
            # Already performed by an earlier attempt of this run: reuse its outputs.
            self.store_outputs(action, done, {})
            return None
        effect = action_type.effect_of(action.config or {})
        described = self.dry_run and effect == Effect.OUTSIDE
        outside = effect == Effect.OUTSIDE and not self.dry_run
        claims_effect = outside and not action_type.effect_is_idempotent
        if claims_effect and (claim := self.effect_claims.get(log.key)) is not None:
            return self.settle_earlier_claim(claim, log, action, action_type, started)
        claimed = False
        # In a simulation every action performed takes a savepoint: an error in one must
        # not break the simulation's transaction.
        in_savepoint = (self.dry_run and not described) or (
            effect in (Effect.DATABASE, Effect.SHARED_ROW)
            and not action_type.effect_is_one_statement
        )
        # Whether a database error in the action leaves the run's transaction usable.
        contained = described or outside or in_savepoint
        try:
            inputs = action_type.render(ctx, action.config)
            log.inputs = action_type.loggable(inputs)
            if described:
                result = action_type.dry_run(ctx, inputs)
            elif in_savepoint:
                # A savepoint: an effect half-done when the action fails is undone and
                # the run goes on. Done, it commits with its log line and the run's end
                # (a simulation's is rolled back with the simulation).
                with transaction.atomic():
                    result = action_type.run(ctx, inputs)
            elif claims_effect:
                claimed = self.claim_effect(log, action_type, inputs)
                result = action_type.run(ctx, inputs)
            elif outside:
                self.commit()
                result = action_type.run(ctx, inputs)
            elif (later := self.deferred_effect(action, action_type, inputs)) is not None:
                return self.defer(log, action_type, later, started)
            else:
                result = action_type.run(ctx, inputs)
        except ActionError as exc:
            log.status, log.error = RunLog.Status.FAILED, exc.message
            return self.action_failed(log, action, started, claimed)
        except (*TASK_STOPPED, TransactionBroken):
            raise
        except Exception as exc:
            logger.exception("Action %s of run %s crashed", action.pk, self.run.pk)
            error = f"Internal error: {type(exc).__name__}: {exc}"
            if not contained and isinstance(exc, DatabaseError):
                raise TransactionBroken(
                    f"{error} (in {action_type.label}; the run's database work since its "
                    "last commit was undone)"
                ) from exc
            log.status, log.error = RunLog.Status.FAILED, error
            return self.action_failed(log, action, started, claimed)
        # An outside effect's log line is written at once: it keeps a re-run from
        # repeating the effect.
        self.action_succeeded(log, action, result, started, write_now=outside, claimed=claimed)
        if effect == Effect.SHARED_ROW and not self.dry_run:
            self.commit()
        return self.stop_if_asked(action_type, result)

    def deferred_effect(self, action, action_type, inputs):
        """The effect of a shared-row update that nothing later in the run reads, to be
        applied before the run commits; None when it must happen now."""
        if (
            action_type.effect != Effect.SHARED_ROW
            or not self.defers_shared_rows
            or (action.config or {}).get("save_as")
        ):
            return None
        return action_type.run_later(self.ctx, inputs)

    def defer(self, log, action_type, effect, started):
        log.status = RunLog.Status.RAN
        log.duration_ms = elapsed_ms(started)
        self.add_log(log)
        self.deferred.append((log, action_type, effect))

    def apply_deferred(self):
        """Perform the deferred shared-row updates; their log lines get their outputs."""
        deferred, self.deferred = self.deferred, []
        apply_deferred_effects(deferred)

    def action_succeeded(self, log, action, result, started, write_now, claimed=False):
        log.outputs = result.outputs
        log.simulation = result.simulation
        if result.stop:
            log.status = RunLog.Status.STOPPED
        elif result.skipped_because:
            log.status, log.error = RunLog.Status.SKIPPED, result.skipped_because
        else:
            log.status = RunLog.Status.RAN
        log.duration_ms = elapsed_ms(started)
        self.store_outputs(action, result.outputs, result.variables)
        if claimed:
            self.settle_own_claim(log)
        else:
            self.add_log(log, write_now=write_now)

    def stop_if_asked(self, action_type, result):
        if result.stop:
            raise RunStopped(Run.Status.STOPPED, f"Stopped by {action_type.label}.")
        return result

    def action_failed(self, log, action, started, claimed=False):
        log.duration_ms = elapsed_ms(started)
        if claimed:
            self.settle_own_claim(log)
        else:
            self.add_log(log)
        return self.follow_fallback(action, log.error)

    def follow_fallback(self, action, error):
        if (action.config or {}).get("fallback") == "continue":
            return None
        raise RunStopped(Run.Status.FAILED, error)

    def claim_effect(self, log, action_type, inputs):
        """Commit the action's claim of its effect before the effect starts: a run taken
        over finds it and does not start the effect again (settle_earlier_claim)."""
        claims.mark_claimed(log, action_type, inputs)
        self.add_log(log)
        self.commit()
        return True

    def settle_own_claim(self, log):
        """Turn the claim of `log`'s effect into its outcome. Raises LeaseLost when the run
        was taken over meanwhile and the claim settled by its new execution."""
        if not claims.settle_claim(self.run.pk, log):
            raise LeaseLost

    def settle_earlier_claim(self, claim, log, action, action_type, started):
        """The outcome of an effect an earlier attempt claimed (claims.py): its outputs
        when it ran, else the action's fallback followed."""
        if claim.status == RunLog.Status.SENDING:
            self.commit()  # nothing of the run stays locked while it waits
        outcome = claims.outcome_of_earlier_claim(self.run.pk, claim, log, action_type, started)
        if outcome.status == RunLog.Status.RAN:
            self.store_outputs(action, outcome.outputs, {})
            return None
        return self.follow_fallback(action, outcome.error)

    def store_outputs(self, action, outputs, variables):
        data_vars = self.ctx.data["vars"]
        save_as = (action.config or {}).get("save_as")
        if save_as:
            data_vars[save_as] = outputs
        data_vars.update(variables)


def apply_deferred_effects(deferred):
    """Perform deferred shared-row updates [(log line, action type, effect)] in the order
    of the rows they lock (the effect's `lock_key`, see ActionType.run_later): runs that
    lock several such rows all lock them in one order, so none waits on another in a
    circle (a deadlock). Their log lines get their outputs."""
    for log, action_type, effect in sorted(deferred, key=deferred_lock_key):
        try:
            log.outputs = jsonable(effect().outputs)
        except ActionError as exc:
            log.status, log.error = RunLog.Status.FAILED, exc.message
        except DATABASE_UNAVAILABLE:
            raise
        except DatabaseError as exc:
            raise TransactionBroken(
                f"Internal error: {type(exc).__name__}: {exc} (in {action_type.label}; "
                "the run's database work since its last commit was undone)"
            ) from exc


def deferred_lock_key(entry):
    return getattr(entry[2], "lock_key", ())
