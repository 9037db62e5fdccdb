"""The run's transaction: its database work since its last outside effect, as one.

One commit per run instead of one per database action: fewer round trips and WAL
flushes, and the effects, their log lines and the run's end stand or fall together. It
commits before an outside effect (no message leaves for work that could still roll back,
no transaction stays open while a server answers) and at least every
PICKY_RUN_TRANSACTION_SECONDS, so a long run holds its locks briefly.

A run's end is a value (`EndedRun`: its row's values, its last log lines, its deferred
shared-row updates) handed to the transaction (`end_run`), which writes it at its commit.
"""

import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.db import transaction

from .. import runs
from ..triggers import committing_at_hop, mark_committing_hop
from .actions import apply_deferred_effects
from .stops import DATABASE_UNAVAILABLE, TASK_STOPPED
from .timeline import log_rows


@dataclass(slots=True)
class EndedRun:
    """A run's end as the commit writes it: the run, the values its row takes, its log
    lines not written yet and its deferred shared-row updates, performed first (they give
    their lines their outputs)."""

    run: Any
    values: dict
    lines: list
    deferred: list = field(default_factory=list)


class RunTransaction:
    """The transaction of a run, or `shared` by the runs of a message (process_events).

    In a shared transaction the end of a run whose row is not written yet (no commit
    since it began: database actions only) waits for the commit: there the ended runs'
    deferred shared-row updates are applied, then their rows and log lines are INSERTed
    in one statement. A rollback with ended runs in it undoes their work too: it raises
    RunsUndone with the events handed to runs in the transaction, to be run again.
    """

    def __init__(self, shared=False):
        self._atomic = None
        self.began_at = 0.0
        # A run created in this transaction, until it commits.
        self.new_run = None
        self.shared = shared
        self.ended = []  # EndedRun values, written at the commit
        self.handed = []  # events handed to their runs in it
        # The hop count of the event whose run works in it now: the record changes it
        # commits start connectors one hop further (connectors/triggers.py).
        self.run_hop = 0

    @property
    def open(self):
        return self._atomic is not None

    def begin(self):
        if self._atomic is None:
            atomic = ExitStack()
            atomic.enter_context(transaction.atomic())
            self._atomic, self.began_at = atomic, time.monotonic()
            self.mark_hop()

    def start_run(self, hop_count):
        """The run of an event `hop_count` hops deep works in this transaction from now on
        (a shared one holds several runs, one after the other)."""
        self.run_hop = hop_count
        if self.open:
            self.mark_hop()

    def mark_hop(self):
        """Mark where the current run's work starts among what the commit signals: the
        commit calls its callbacks in the order they were registered, so the record
        changes signalled after this mark are the current run's."""
        transaction.on_commit(partial(mark_committing_hop, self.run_hop))

    def end_run(self, ended):
        """Write `ended` at the commit: now, unless the transaction is shared and the run's
        row is not written yet (then with the other runs' ends)."""
        self.ended.append(ended)
        if not self.shared or runs.is_written(ended.run):
            self.commit()

    def commit(self):
        if self.ended:
            self.write_ended()
        atomic, self._atomic = self._atomic, None
        self.new_run = None
        self.handed = []
        if atomic is not None:
            with committing_at_hop(self.run_hop):
                atomic.close()

    def rollback(self, exc=None):
        atomic, self._atomic = self._atomic, None
        # A shared transaction locks the rows of several runs, in no set order (contacts):
        # PostgreSQL may break a deadlock with another by aborting it. Each run again on
        # its own cannot deadlock.
        lock_race = self.shared and lost_a_lock_race(exc)
        undone = self.handed if (self.shared and self.ended) or lock_race else None
        self.new_run, self.ended, self.handed = None, [], []
        if atomic is not None:
            exc = exc or RolledBack()
            atomic.__exit__(type(exc), exc, exc.__traceback__)
        if undone and (lock_race or not isinstance(exc, TASK_STOPPED)):
            raise RunsUndone(undone)

    def rollback_quietly(self, exc):
        """Roll back after `exc` escaped the run: never left open, the transaction would
        poison the worker's connection for every later task. With the database gone the
        rollback fails too, and the connection is closed either way."""
        with suppress(DATABASE_UNAVAILABLE):
            self.rollback(exc)

    def write_ended(self):
        """Apply the ended runs' deferred updates, then write their rows and log lines
        (new runs' in one statement). Whatever fails rolls the transaction back."""
        ended, self.ended = self.ended, []
        try:
            apply_deferred_effects([effect for end in ended for effect in end.deferred])
            runs.write_ends(
                [(end.run, end.values, log_rows(end.lines, end.run.pk)) for end in ended]
            )
        except DATABASE_UNAVAILABLE:
            raise
        except Exception as exc:
            self.ended = ended
            self.rollback(exc)
            raise


def commit_shared(shared):
    """Commit the transaction shared by a message's runs; whatever fails rolls it back
    (and may raise RunsUndone): never left open on the worker's connection."""
    try:
        shared.commit()
    except BaseException as exc:
        shared.rollback_quietly(exc)
        raise


def lost_a_lock_race(exc):
    """Whether PostgreSQL aborted the transaction to break a deadlock (or a serialization
    failure): the database is fine, and the work can be done again."""
    return getattr(getattr(exc, "__cause__", None), "sqlstate", None) in ("40P01", "40001")


class RolledBack(Exception):
    """Internal: the reason given to a transaction rolled back for no error of its own."""


class RunsUndone(BaseException):
    """A transaction shared by a message's runs was rolled back with the work of runs that
    had ended in it, or lost a deadlock; the events handed to runs in it (`event_ids`) are
    queued again.

    A BaseException: no run's `except Exception` may take it for its own failure."""

    def __init__(self, event_ids):
        super().__init__(event_ids)
        self.event_ids = event_ids
