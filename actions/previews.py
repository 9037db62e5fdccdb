"""The live preview of an action page: the action, with the settings as the form holds
them (not yet saved), run on its connector's sample payload.

Only types that compute and touch nothing (`shows_preview`, the formatters) are previewed:
they run for real, as a simulation runs them. The context is the one the HTTP action's Test
button renders with (http_services.sample_context): the sample as `event`, and the contact
the connector's field mapping makes of it.
"""

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from .base import ActionContext, ActionError
from .http_services import sample_context
from .registry import get_type

NO_SAMPLE = (
    "This connector has no sample payload yet: send it a webhook or paste one on the "
    "connector page to see a preview."
)


@dataclass
class Preview:
    outputs: Any = None
    error: str = ""
    # Why the values of `contact` are empty in the preview, if they are.
    notes: list = field(default_factory=list)


class PreviewRolledBack(Exception):
    """Internal: ends the preview's transaction, so that nothing it did is kept."""


def preview_on_sample(action, config):
    """What `action` (saved or not) gives with `config` for its connector's sample."""
    connector = action.step.connector
    if connector.sample_payload is None:
        return Preview(error=NO_SAMPLE)
    payload = connector.sample_payload
    data, contact_note = sample_context(action, payload if isinstance(payload, dict) else {})
    action_type = get_type(action.type)
    ctx = ActionContext(
        project=connector.project, data=data, connector=connector, step=action.step, dry_run=True
    )
    preview = Preview(notes=[contact_note] if contact_note else [])
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
