"""A connector's definition as runs read it: its steps with their enabled actions, in
order, cached by each worker until someone edits the connector."""

import json
from dataclasses import dataclass

from django.db.models import Prefetch

from actions.models import Action

from ..models import Step


@dataclass(frozen=True)
class ConnectorDefinition:
    """A connector's steps with their enabled actions, in order, and whether any of
    their templates reads `counters` (only then does a run load them)."""

    steps: list
    reads_counters: bool


# A worker's copy of each connector's definition, by (connector id, revision): a run
# reads it without a query until someone edits the connector.
STEPS_CACHE_SIZE = 256
_steps_cache = {}


def connector_definition(connector):
    key = (connector.pk, connector.revision)
    definition = _steps_cache.get(key)
    if definition is None:
        steps = list(
            Step.objects.filter(connector_id=connector.pk).prefetch_related(
                Prefetch("actions", queryset=Action.objects.filter(enabled=True))
            )
        )
        definition = ConnectorDefinition(steps, reads_counters(steps))
        if len(_steps_cache) >= STEPS_CACHE_SIZE:
            _steps_cache.clear()
        _steps_cache[key] = definition
    return definition


def reads_counters(steps):
    text = json.dumps(
        [[s.filters, s.iterator, s.delay, [a.config for a in s.actions.all()]] for s in steps]
    )
    return "counters" in text
