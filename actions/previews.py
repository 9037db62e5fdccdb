"""The live preview of an action page: the action, with the settings as the form holds
them (not yet saved), run on its connector's sample payload.

Only types that compute and touch nothing (`shows_preview`, the formatters) are previewed:
they run for real, as a simulation runs them. Their templates read what a run of the
sample has by then: the context of the connector's draft simulated on the sample through
the action's step ("Test this step"), so `vars` holds what the earlier steps and the step's
saved actions save, and `contact` the contact the field mapping makes of the sample.
"""

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from connectors import engine
from connectors.models import Run, Step

from .base import ActionContext, ActionError
from .registry import get_type

NO_SAMPLE = (
    "This connector has no sample payload yet: send it a webhook or paste one on the "
    "connector page to see a preview."
)


@dataclass
class Preview:
    outputs: Any = None
    error: str = ""
    # What makes the preview's values differ from a real run's, if anything.
    notes: list = field(default_factory=list)


class PreviewRolledBack(Exception):
    """Internal: ends the preview's transaction, so that nothing it did is kept."""


def preview_on_sample(action, config):
    """What `action` (saved or not) gives with `config` for its connector's sample."""
    connector = action.step.connector
    if connector.sample_payload is None:
        return Preview(error=NO_SAMPLE)
    steps = list(Step.objects.filter(connector=connector).values_list("pk", flat=True))
    if action.step_id not in steps:
        return Preview(error="This action's step is not in the connector's draft.")
    simulation = engine.simulate(
        connector, connector.sample_payload, through_step=steps.index(action.step_id)
    )
    preview = Preview()
    if simulation.status == Run.Status.FAILED:
        preview.notes.append(
            f"A run of the sample fails in this step or before it ({simulation.error}): "
            "what would be saved after the failure is missing here."
        )
    action_type = get_type(action.type)
    ctx = ActionContext(
        project=connector.project,
        data=simulation.context,
        connector=connector,
        step=action.step,
        dry_run=True,
    )
    try:
        # The types previewed touch nothing; rolled back all the same, as a simulation is.
        with transaction.atomic():
            result = action_type.run(ctx, action_type.render(ctx, config))
            raise PreviewRolledBack
    except PreviewRolledBack:
        preview.outputs = result.outputs
    except ActionError as exc:
        preview.error = exc.message
    return preview
