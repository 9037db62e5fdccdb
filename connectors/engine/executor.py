"""Executing a run: its steps in order from `run.next_step`, each one's delay (park the
run), filters (skip the step) and iterator (its actions once per item), then its actions
(actions.py). Every step and action leaves a log line (timeline.py); the run's database
work commits as one transaction (transaction.py); its end is a value handed to that
transaction, and connectors/runs.py writes it.
"""

import logging
import time

from django.conf import settings
from django.db import DatabaseError

from picky.templating import render_value

from .. import delays, filters, runs
from ..models import Run, RunLog
from .actions import ActionRunner
from .context import run_context, saved_context
from .definition import connector_definition
from .hold import RunHold
from .replay import done_before_resume
from .stops import TASK_STOPPED, LeaseLost, RunStopped, TransactionBroken
from .timeline import Timeline, log_rows, write_lines
from .transaction import EndedRun, RunTransaction

logger = logging.getLogger(__name__)

DEFAULT_ITERATOR_MAX = 500


class RunExecutor(ActionRunner):
    def __init__(
        self,
        run,
        event,
        dry_run=False,
        run_transaction=None,
        sends_safe_requests=False,
        through_step=None,
    ):
        super().__init__()
        # A simulation's last step (Test this step): the index of the step it stops after.
        self.through_step = through_step
        # A simulation's "Run safe requests for real" (ActionContext.sends_safe_requests).
        self.sends_safe_requests = sends_safe_requests
        self.run = run
        self.event = event
        self.connector = event.connector
        self.project = self.connector.project
        self.dry_run = dry_run
        self.timeline = Timeline(writes=not dry_run)
        self.ctx = None
        self.hold = RunHold(run, simulating=dry_run)
        self.tx = run_transaction or RunTransaction()
        self.tx.start_run(event.hop_count or 0)

    def execute(self):
        try:
            return self.execute_steps()
        except BaseException as exc:
            self.tx.rollback_quietly(exc)
            raise

    def execute_steps(self):
        definition = connector_definition(self.connector, self.run.version_id)
        steps = definition.steps
        self.defers_shared_rows = not definition.reads_counters
        if not self.dry_run:
            self.tx.begin()
        try:
            self.ctx = run_context(
                self.run,
                self.event,
                definition,
                self.hold.deadline,
                simulating=self.dry_run,
                sends_safe_requests=self.sends_safe_requests,
            )
            if self.run.attempts > 1 and not self.dry_run:
                self.load_earlier_attempts()
            if self.run.resume_of_id and not self.dry_run:
                self.done_effects = {**done_before_resume(self.run), **self.done_effects}
            end = len(steps) if self.through_step is None else self.through_step + 1
            for index in range(self.run.next_step, min(end, len(steps))):
                self.run.next_step = index
                self.run_step(index, steps[index])
        except LeaseLost as exc:
            logger.warning("Run %s was taken over by another worker; this one stops", self.run.pk)
            self.tx.rollback(exc)
            return self.run
        except RunStopped as stop:
            return self.end(stop.status, stop.error)
        except TASK_STOPPED:
            raise  # rolled back by execute(); the sweep retries the run
        except TransactionBroken as broken:
            self.undo(broken)
            return self.end(Run.Status.FAILED, str(broken))
        except Exception as exc:
            logger.exception("Run %s failed", self.run.pk)
            if isinstance(exc, DatabaseError):
                self.undo(exc)
            return self.end(Run.Status.FAILED, f"Internal error: {type(exc).__name__}: {exc}")
        return self.end(Run.Status.SUCCEEDED)

    def end(self, status, error=""):
        """Hand the run's end to its transaction (on an error, execute() rolls back)."""
        if self.dry_run:
            self.run.status, self.run.error = status, error
            return self.run
        # The last log lines and the run's end commit with the rest of the run's
        # database work: no crash leaves a half-written end.
        self.tx.begin()
        if not self.tx.shared or runs.is_written(self.run):
            # Written now: its deferred updates first (a shared commit applies them).
            try:
                self.apply_deferred()
            except TransactionBroken as broken:
                self.undo(broken)
                status, error = Run.Status.FAILED, str(broken)
        self.tx.end_run(self.ended_run(status, error))
        return self.run

    def ended_run(self, status, error):
        """The run's end as a value: its row's values, its last log lines, its deferred
        shared-row updates."""
        contact = self.ctx.contact if self.ctx else self.run.contact
        values = runs.end_values(
            self.run, status, error, saved_context(self.ctx), contact.pk if contact else None
        )
        deferred, self.deferred = self.deferred, []
        return EndedRun(self.run, values, self.timeline.take_pending(), deferred)

    def undo(self, exc):
        """Roll back the run's open transaction after a database error in it: its work
        and log lines since the last commit are undone, the run itself is kept (its event
        handed to it again, its row written at its end, when it was created in that
        transaction) so that it can end failed."""
        new_run = self.tx.new_run
        self.tx.rollback(exc)
        self.timeline.take_pending()
        self.deferred = []
        self.ctx = None  # its contact may have been created in what was undone
        if new_run is not None:
            self.tx.begin()
            runs.hand_event_again(new_run)
            self.tx.handed.append(new_run.event_id)

    # Steps -------------------------------------------------------------------

    def run_step(self, index, step):
        started = time.perf_counter()
        ctx = self.ctx
        ctx.step = step
        self.hold.stop_if_out_of_time()
        self.keep_transaction()
        self.hold.renew_lease()
        delay_done = self.run.delay_done_step == index
        if step.delay and not delay_done and self.apply_delay(index, step, started):
            return
        passed, details = filters.evaluate(step.filters, ctx.data, self.project.tzinfo)
        # A condition that could not be evaluated (a pattern RE2 cannot take) is false;
        # the step's log line says why.
        note = filters.evaluation_errors(details) if details else ""
        if not passed:
            self.timeline.add_step(
                step, index, RunLog.Status.SKIPPED, started, inputs={"filters": details}, error=note
            )
            return
        items = self.iteration_items(step)
        inputs = {"filters": details} if details else {}
        if items is not None:
            total, items = items
            inputs["iterator"] = {"items": total, "run": len(items)}
            if total > len(items):
                capped = f"Iterator capped at {len(items)} of {total} items."
                note = f"{note} {capped}" if note else capped
        try:
            if items is None:
                self.run_actions(step, index, iteration=None)
            else:
                for position, item in enumerate(items):
                    ctx.data["item"], ctx.data["index"] = item, position
                    self.run_actions(step, index, iteration=position)
                ctx.data.pop("item", None)
                ctx.data.pop("index", None)
        except RunStopped as stop:
            status = (
                RunLog.Status.FAILED if stop.status == Run.Status.FAILED else RunLog.Status.STOPPED
            )
            self.timeline.add_step(step, index, status, started, inputs=inputs, error=stop.error)
            raise
        self.timeline.add_step(step, index, RunLog.Status.RAN, started, inputs=inputs, error=note)

    def apply_delay(self, index, step, started):
        """Whether the step's delay skips the step; raises RunStopped when it parks the run
        (waiting) or stops it."""
        plan = delays.plan_delay(step, self.ctx)
        inputs = {
            "delay": step.delay,
            "decision": plan.decision,
            "due_at": plan.due_at.isoformat() if plan.due_at else None,
            "identifier": plan.identifier,
        }
        if plan.decision == "now":
            return False
        if plan.decision == "skip":
            self.timeline.add_step(step, index, RunLog.Status.SKIPPED, started, inputs, plan.reason)
            return True
        if plan.decision == "stop":
            self.timeline.add_step(step, index, RunLog.Status.STOPPED, started, inputs, plan.reason)
            raise RunStopped(Run.Status.STOPPED, plan.reason)
        if plan.decision == "fail":
            self.timeline.add_step(step, index, RunLog.Status.FAILED, started, inputs, plan.reason)
            raise RunStopped(Run.Status.FAILED, plan.reason)
        self.timeline.add_step(step, index, RunLog.Status.WAITING, started, inputs)
        if self.dry_run:
            # A simulation shows the wait and goes on as if it had elapsed.
            return False
        self.flush_logs()
        delays.park_run(self.run, step, index, plan)
        raise RunStopped(Run.Status.WAITING)

    def iteration_items(self, step):
        """None without an iterator, else (total, items capped at the iterator's max)."""
        if not step.iterator:
            return None
        path = step.iterator.get("path", "")
        value = render_value("{{ " + path + " }}", self.ctx.data) if path else None
        items = value if isinstance(value, list) else ([] if value is None else [value])
        cap = int(step.iterator.get("max") or DEFAULT_ITERATOR_MAX)
        return len(items), items[:cap]

    # The run's transaction ---------------------------------------------------

    def add_log(self, log, write_now=False):
        self.timeline.add(log)
        if write_now and not self.dry_run:
            self.flush_logs()

    def flush_logs(self):
        """Write the pending log lines, after the deferred effects they tell of (and the
        run's row, when it is not written yet)."""
        self.apply_deferred()
        if self.dry_run:
            return
        lines = self.timeline.take_pending()
        if not runs.is_written(self.run):
            runs.insert_runs([(self.run, log_rows(lines, self.run.pk))])
        elif lines:
            write_lines(lines, self.run.pk)

    def commit(self):
        """Commit the run's database work so far, its log lines included."""
        self.flush_logs()
        self.tx.commit()

    def keep_transaction(self):
        """A transaction open for the work that follows, committed first when it has
        been open for PICKY_RUN_TRANSACTION_SECONDS (a long run holds its locks briefly)."""
        if self.dry_run:
            return
        longest = settings.PICKY_RUN_TRANSACTION_SECONDS
        if self.tx.open and time.monotonic() - self.tx.began_at > longest:
            self.commit()
        self.tx.begin()
