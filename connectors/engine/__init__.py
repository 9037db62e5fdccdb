"""The engine: runs a connector's steps for one event (DESIGN.md "The hot path").

A run walks the steps in order: delay (park the run), filters (skip the step),
iterator (run the actions once per item), then the actions in order. Every step and
action leaves a log line. The database is the source of truth: a run owns a lease while
it executes, the stuck-run sweep re-enqueues runs whose lease ran out, and an action
with outside effects that already succeeded for the same (run, step, action, iteration)
is not repeated.

Its rooms, in the order a run passes them:

- `process`: the entry points the Celery tasks call (an event's run, a run continued,
  the stuck-run sweep); `replay`: a run resumed, or its event run again from the start.
- `executor`: one execution of a run, step by step; `actions`: one action, run as
  its type's effect says; `claims`: outside effects claimed before they start.
- `context`: what templates read, and the run's contact (the field mapping);
  `definition`: the connector's steps, cached by each worker.
- `timeline`: the log lines; `transaction`: the run's database work as one
  transaction, its end handed to the commit as a value; `hold`: the run's lease and
  time limit; `stops`: how an execution stops early.
- `simulation`: Simulate, by a run rolled back.

A run's status, lease and end are written by connectors/runs.py only, and its SQL
lives in connectors/queries.py.
"""

from .claims import OUTCOME_DUE
from .definition import _steps_cache
from .executor import RunExecutor
from .process import (
    RUNS_PER_SHARED_COMMIT,
    continue_run,
    continue_runs,
    process_event,
    process_events,
    run_event,
    sweep_stuck,
)
from .replay import (
    ReplayRefused,
    latest_run,
    outside_effects,
    replay_event,
    resume_point,
    resume_refusal,
    resume_run,
)
from .simulation import Simulation, simulate
from .timeline import jsonable, log_as_dict

__all__ = [
    "OUTCOME_DUE",
    "RUNS_PER_SHARED_COMMIT",
    "ReplayRefused",
    "RunExecutor",
    "Simulation",
    "_steps_cache",
    "continue_run",
    "continue_runs",
    "jsonable",
    "latest_run",
    "log_as_dict",
    "outside_effects",
    "process_event",
    "process_events",
    "replay_event",
    "resume_point",
    "resume_refusal",
    "resume_run",
    "run_event",
    "simulate",
    "sweep_stuck",
]
