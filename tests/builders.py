"""Small builders for tests: a connector with steps and actions in one call."""

from django.contrib.auth import get_user_model
from django.utils import timezone

from actions.models import Action
from connectors.models import Connector, Step
from picky.models import Membership
from teambox.models import Agent


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


def build_agent(project, username, *, online=True, departments=(), role="agent", **fields):
    """A project member with an agent profile; `online`: present, with a fresh heartbeat."""
    user = get_user_model().objects.create_user(
        username, email=f"{username}@shop.example", first_name=username.title()
    )
    Membership.objects.create(project=project, user=user, role=role)
    if online:
        fields = {"presence": Agent.Presence.ONLINE, "last_seen_at": timezone.now(), **fields}
    agent = Agent.objects.create(project=project, user=user, **fields)
    agent.departments.set(departments)
    return agent
