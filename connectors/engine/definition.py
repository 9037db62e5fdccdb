"""A connector's definition as runs read it: its steps with their enabled actions, in
order, cached by each worker until someone edits the connector."""

import json
import re
from dataclasses import dataclass

from django.db.models import Prefetch

from actions.models import Action

from ..models import Step


@dataclass(frozen=True)
class ConnectorDefinition:
    """A connector's steps with their enabled actions, in order, whether any of their
    templates reads `counters`, and the data-storage rows they read (`storage.<table>.<row>`
    as (table, row) pairs; row None for a whole table): only then does a run load them."""

    steps: list
    reads_counters: bool
    storage_rows: frozenset = frozenset()


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
        definition = ConnectorDefinition(steps, reads_counters(steps), storage_rows(steps))
        if len(_steps_cache) >= STEPS_CACHE_SIZE:
            _steps_cache.clear()
        _steps_cache[key] = definition
    return definition


def reads_counters(steps):
    text = json.dumps(
        [[s.filters, s.iterator, s.delay, [a.config for a in s.actions.all()]] for s in steps]
    )
    return "counters" in text


# A JMESPath identifier, bare or quoted ("Price list").
_NAME = r'(?:[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*")'
STORAGE_PATH = re.compile(rf"\bstorage\s*\.\s*({_NAME})(?:\s*\.\s*({_NAME}))?")


def storage_rows(steps):
    """The (table, row) pairs the steps' templates and iterator paths read from `storage`
    (row None: the whole table), as written."""
    return frozenset(
        (identifier(table), identifier(row) if row else None)
        for text in definition_strings(steps)
        if "storage" in text
        for table, row in STORAGE_PATH.findall(text)
    )


def identifier(name):
    """A JMESPath identifier as the data's key: a quoted one unquoted."""
    if not name.startswith('"'):
        return name
    try:
        return json.loads(name)
    except ValueError:
        return name[1:-1]  # an escape JMESPath refuses: the template fails to compile anyway


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
