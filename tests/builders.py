"""Small builders for tests: a connector with steps and actions in one call."""

from actions.models import Action
from connectors.models import Connector, Step


def build_connector(project, name="Flow", steps=(), **fields):
    """steps: [{"name", "filters", "iterator", "delay", "actions": [(type, config), ...]}]."""
    connector = Connector.objects.create(project=project, name=name, **fields)
    for position, spec in enumerate(steps):
        step = Step.objects.create(
            connector=connector,
            position=position,
            name=spec.get("name", ""),
            filters=spec.get("filters") or [],
            iterator=spec.get("iterator"),
            delay=spec.get("delay"),
        )
        for action_position, (action_type, config) in enumerate(spec.get("actions", [])):
            Action.objects.create(
                step=step, position=action_position, type=action_type, config=config
            )
    return connector
