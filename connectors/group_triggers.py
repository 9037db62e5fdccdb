"""Connectors started by a WhatsApp group's members: a number joined or left a group.

teambox sends `group_members_changed` after the commit that stored a gateway's
participants update (teambox/signals.py); the receiver in connectors/signals.py hands it
here. Each enabled connector triggered by that change of the group, or of the parent of
a child group, gets one event per number (GROUP_PAYLOAD_HELP).
"""

import uuid

from django.db import transaction
from django.db.models import Q

from .models import Connector
from .services import record_keyed_events
from .triggers import enabled_connectors

# The event method of a group change's events: the event list shows where they came from.
GROUP_METHOD = "GROUP"

GROUP_PAYLOAD_HELP = (
    "Started by a WhatsApp group, templates read the member's number as event.number, "
    "the change as event.action (joined or left), the group as event.group.id (its "
    "WhatsApp id …@g.us), event.group.subject and event.group.parent (the subject of the "
    "group a child group continues, else null), and its channel as event.channel.name."
)


def start_group_runs(group, numbers, action):
    """Record one event per number of `numbers` joining or leaving `group` (`action`
    "joined" or "left") for each enabled connector the change starts; returns the new
    events' ids, each handed to a worker once committed."""
    trigger = Connector.GROUP_TRIGGERS.get(action)
    if trigger is None or not numbers:
        return []
    family = Q(trigger_group_id=group.pk)
    if group.parent_id:
        family |= Q(trigger_group_id=group.parent_id)
    connectors = enabled_connectors(family, trigger=trigger)
    if not connectors:
        return []
    channel = group.channel
    parent = group.parent.subject if group.parent_id else None
    # The gateway's update carries no id of its own: one key per signal keeps its numbers
    # apart.
    signal = uuid.uuid4().hex
    keyed = [
        (
            f"picky-group:{group.pk}:{action}:{number}:{signal}",
            {
                "number": number,
                "action": action,
                "group": {"id": group.gateway_id, "subject": group.subject, "parent": parent},
                "channel": {"id": channel.pk, "name": channel.name, "kind": channel.kind},
            },
        )
        for number in dict.fromkeys(numbers)
    ]
    with transaction.atomic():
        return record_keyed_events(connectors, keyed, method=GROUP_METHOD)
