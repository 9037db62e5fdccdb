"""Replay, in two kinds: a run resumed where it ended, or its event run again from the start.

Resume (a failed or stopped run) continues at the step the run ended in, with the vars and
contact it had there and its elapsed delay. The actions that ran in it, and in the runs it
resumed, are not run again: their outputs are reused, so an iterator goes on at the item that
failed. Its effect keys are those of the first run it continues (`Run.resume_of`), so an effect
half done there is not doubled. Run again starts at the first step and repeats every effect:
`outside_effects` lists those a person confirms first.
"""

from django.db import transaction
from django.db.models import Q

from actions.base import Effect
from actions.registry import get_type

from .. import runs
from ..models import Event, Run, RunLog
from ..queue import enqueue_run
from .definition import connector_definition

RESUMABLE = (Run.Status.FAILED, Run.Status.STOPPED)


class ReplayRefused(Exception):
    """The event cannot be run again, or the run cannot be resumed; the message says why to
    the person who asked."""


def replay_event(event):
    """A new run of `event` from the first step, executed by a worker."""
    if event.status == Event.Status.REJECTED:
        raise ReplayRefused(f"Event {event.pk} was rejected ({event.error}); it has no payload.")
    run = runs.create_replay(event)
    transaction.on_commit(lambda: enqueue_run(run.pk))
    return run


def resume_run(run):
    """A new run that goes on where `run` ended (see the module), executed by a worker.
    Raises ReplayRefused when `run` cannot be resumed (resume_refusal)."""
    with transaction.atomic():
        # Two clicks at once: the second waits here, then finds the first's run the latest.
        Event.objects.select_for_update().filter(pk=run.event_id).first()
        run = Run.objects.get(pk=run.pk)
        refusal = resume_refusal(run)
        if refusal:
            raise ReplayRefused(refusal)
        resumed = runs.create_resume(run)
        transaction.on_commit(lambda: enqueue_run(resumed.pk))
    return resumed


def resume_refusal(run):
    """Why `run` cannot be resumed, for the person asking; "" when it can."""
    if run.status == Run.Status.SUCCEEDED:
        return (
            f"Run {run.pk} succeeded: there is nothing to resume. "
            "Run the event again from the start instead."
        )
    if run.status == Run.Status.WAITING:
        return f"Run {run.pk} is waiting on a delay: it goes on by itself when the delay is due."
    if run.status not in RESUMABLE:
        return f"Run {run.pk} has not ended yet: wait for it to end."
    latest = latest_run(run.event_id)
    if latest.pk != run.pk:
        return (
            f"Run {run.pk} is not the latest run of event {run.event_id}: run {latest.pk} is. "
            "Resume that one, or run the event again from the start."
        )
    return ""


def latest_run(event_id):
    return Run.objects.filter(event_id=event_id).order_by("-id").first()


def done_before_resume(run):
    """The outputs of the actions done in the runs `run` resumes, by (step, action,
    iteration): those that ran, and those skipped (a message to a lead without a number),
    as a redelivery counts them (claims.earlier_attempts). `run` does not run them again."""
    root = run.resume_of_id
    rows = (
        RunLog.objects.filter(
            Q(run_id=root) | Q(run__resume_of_id=root, run_id__lt=run.pk),
            kind=RunLog.Kind.ACTION,
            status__in=[RunLog.Status.RAN, RunLog.Status.SKIPPED],
        )
        .order_by("id")
        .values_list("step_id", "action_id", "iteration", "outputs")
    )
    return {(step, action, iteration): outputs for step, action, iteration, outputs in rows}


def resume_point(run):
    """Where a resumption of `run` goes on: its step's label, or "" past the last step."""
    steps = connector_definition(run.connector, run.version_id).steps
    if run.next_step >= len(steps):
        return ""
    return step_label(steps[run.next_step], run.next_step)


def outside_effects(connector, run=None):
    """The connector's actions that reach outside Picky (messages, mail, HTTP), in order:
    what running an event again from the start may repeat. Each is a dict of its step's
    label, its name, its type's label and whether it ran in `run`."""
    ran = set()
    if run is not None:
        ran = set(
            RunLog.objects.filter(
                run=run, kind=RunLog.Kind.ACTION, status=RunLog.Status.RAN
            ).values_list("action_id", flat=True)
        )
    effects = []
    version_id = run.version_id if run is not None else connector.live_version_id
    for index, step in enumerate(connector_definition(connector, version_id).steps):
        for action in step.actions.all():
            action_type = get_type(action.type)
            if action_type is None or action_type.effect != Effect.OUTSIDE:
                continue
            effects.append(
                {
                    "step": step_label(step, index),
                    "name": action.name or action_type.label,
                    "type": action_type.label,
                    "ran": action.pk in ran,
                }
            )
    return effects


def step_label(step, index):
    return f"Step {index + 1} · {step.name}" if step.name else f"Step {index + 1}"
