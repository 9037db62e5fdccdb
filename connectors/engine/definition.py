"""A connector's definition as runs read it: its steps with their enabled actions, in
order, cached by each worker until someone edits the connector."""

import json
from dataclasses import dataclass

from django.db.models import Prefetch

from actions.models import Action

from ..models import Step
from .namespaces import namespaces_wanted


@dataclass(frozen=True)
class ConnectorDefinition:
    """A connector's steps with their enabled actions, in order, whether any of their
    templates reads `counters`, and the registered namespaces they name with what they ask
    of each (engine/namespaces.py): only then does a run load them."""

    steps: list
    reads_counters: bool
    namespaces: tuple = ()


# A worker's copy of each published version's definition, by version id: a version never
# changes, so a run reads it without a query. A connector never published runs its steps
# as they stand, cached by (connector id, revision) until someone edits them.
STEPS_CACHE_SIZE = 256
_steps_cache = {}


def connector_definition(connector, version_id):
    """The definition of the connector's version `version_id` (None: its steps as they
    stand, for a connector never published and a simulation of its draft)."""
    key = version_id or (connector.pk, connector.revision)
    definition = _steps_cache.get(key)
    if definition is None:
        steps = list(
            Step.every.filter(connector_id=connector.pk, version_id=version_id).prefetch_related(
                Prefetch("actions", queryset=Action.every.filter(enabled=True))
            )
        )
        definition = ConnectorDefinition(
            steps, reads_counters(steps), namespaces_wanted(definition_strings(steps))
        )
        if len(_steps_cache) >= STEPS_CACHE_SIZE:
            _steps_cache.clear()
        _steps_cache[key] = definition
    return definition


def reads_counters(steps):
    text = json.dumps(
        [[s.filters, s.iterator, s.delay, [a.config for a in s.actions.all()]] for s in steps]
    )
    return "counters" in text


def definition_strings(steps):
    """Every string of the steps' filters, iterators, delays and action configs."""
    pending = [[s.filters, s.iterator, s.delay, [a.config for a in s.actions.all()]] for s in steps]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
