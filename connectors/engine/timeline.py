"""A run's timeline: the log line each step and action leaves, as the engine keeps them
until they are written (RunLog rows) and as a simulation shows them."""

import json
import math
import time
from dataclasses import dataclass
from typing import Any

from .. import queries
from ..models import RunLog


@dataclass(slots=True)
class LogLine:
    """A line of a run's timeline as the engine writes it: a RunLog row to be (no model
    instance per line: a run writes several, and Django's are costly to make)."""

    kind: str
    step: Any
    step_position: int
    status: str = ""
    action: Any = None
    action_position: int | None = None
    iteration: int | None = None
    action_type: str = ""
    inputs: Any = None
    outputs: Any = None
    error: str = ""
    duration_ms: float = 0.0
    # In a simulation, an outside effect as it goes out (Result.simulation); never written.
    simulation: Any = None

    @property
    def key(self):
        """(step, action, iteration): what a re-run recognises an action's line by."""
        return (self.step.pk, self.action.pk, self.iteration)

    def row(self, run_id):
        return {
            "run_id": run_id,
            "kind": self.kind,
            "step_id": self.step.pk if self.step else None,
            "action_id": self.action.pk if self.action else None,
            "step_position": self.step_position,
            "action_position": self.action_position,
            "iteration": self.iteration,
            "action_type": self.action_type,
            "status": self.status,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }


class Timeline:
    """The log lines of one execution of a run: all of them in order (`lines`), and those
    not written yet (`pending`; a simulation writes none)."""

    def __init__(self, writes=True):
        self.lines = []
        self.pending = []
        self.writes = writes

    def add(self, line):
        line.inputs = jsonable(line.inputs)
        line.outputs = jsonable(line.outputs)
        line.simulation = jsonable(line.simulation)
        self.lines.append(line)
        if self.writes:
            self.pending.append(line)

    def add_step(self, step, index, status, started, inputs=None, error=""):
        self.add(
            LogLine(
                kind=RunLog.Kind.STEP,
                step=step,
                step_position=index,
                status=status,
                inputs=inputs,
                error=error,
                duration_ms=elapsed_ms(started),
            )
        )

    def take_pending(self):
        """The lines not written yet, which are no longer pending."""
        lines, self.pending = self.pending, []
        return lines


def log_rows(lines, run_id):
    """`lines` as RunLog rows of the run `run_id`."""
    return [line.row(run_id) for line in lines]


def write_lines(lines, run_id):
    """INSERT `lines` of the run `run_id`, whose row is written already."""
    queries.insert_log_lines(log_rows(lines, run_id))


def log_as_dict(log):
    """A log line (LogLine, or a RunLog read back) as a simulation and the admin's timeline
    show it."""
    return {
        "kind": log.kind,
        "step_position": log.step_position,
        "step_name": str(log.step) if log.step else "",
        "action_position": log.action_position,
        "action_name": log.action.name if log.action else "",
        "action_type": log.action_type,
        "iteration": log.iteration,
        "status": log.status,
        "inputs": log.inputs,
        "outputs": log.outputs,
        "error": log.error,
        "duration_ms": log.duration_ms,
        # A RunLog read back has none: only a simulation describes effects it did not send.
        "simulation": getattr(log, "simulation", None),
    }


def elapsed_ms(started):
    return round((time.perf_counter() - started) * 1000, 3)


def jsonable(value):
    """A copy of `value` as JSON can store it (dates and decimals as text). A run logs
    over a dozen values, nearly all made of dicts, lists, text and numbers already:
    those are copied as they are, five times faster than through JSON text."""
    try:
        return plain_json_copy(value)
    except NotPlainJson:
        return json.loads(json.dumps(value, default=str))


PLAIN_JSON_SCALARS = (str, int, bool, type(None))


class NotPlainJson(Exception):
    """Internal: a value JSON text would change (a date, a tuple, a number key, NaN)."""


def plain_json_copy(value):
    kind = type(value)
    if kind in PLAIN_JSON_SCALARS or (kind is float and math.isfinite(value)):
        return value
    if kind is dict:
        copy = {}
        for key, item in value.items():
            if type(key) is not str:
                raise NotPlainJson
            copy[key] = plain_json_copy(item)
        return copy
    if kind is list:
        return [plain_json_copy(item) for item in value]
    raise NotPlainJson
