"""Connectors started by a macro button: an agent submitted the button's form on a record.

crm sends `macro_submitted` after the record's update commits (crm/records/macros.py);
the receiver in connectors/signals.py hands it here. Each enabled connector triggered by
the button gets one event whose payload is the record after the update, the button and
the agent (MACRO_PAYLOAD_HELP); the record's contact is the run's contact, as for a
record's events.
"""

from django.db import transaction

from .models import Connector
from .services import record_keyed_events
from .triggers import RECORD_METHOD, contact_payload, enabled_connectors

MACRO_PAYLOAD_HELP = (
    "Started by a macro button, templates read the record after the agent's changes as "
    "event.record.<field key> (with event.record.id and event.record.name), the button as "
    "event.button.name and event.button.id, the agent who submitted it as event.agent.name, "
    "event.agent.email and event.agent.id, the module as event.module.name, and the "
    "record's contact as event.contact.number, event.contact.name, event.contact.email and "
    "event.contact.id (empty without one)."
)


def macro_idempotency_key(entry_id):
    """One event per (connector, submission): the same submission (its line on the
    record's timeline) signalled again records none."""
    return f"picky-macro:{entry_id}"


def start_macro_runs(button, record, author, entry_id):
    """Record one event of the submission of `button` on `record` (record_as_dict) by
    `author` (its timeline line `entry_id`) for each enabled connector the button starts,
    handed to workers once committed; returns the new events' ids."""
    connectors = enabled_connectors(
        project_id=button.module.project_id,
        trigger=Connector.Trigger.MACRO_BUTTON,
        trigger_macro=button,
    )
    if not connectors:
        return []
    payload = {
        "record": record,
        "button": {"id": button.pk, "name": button.name},
        "agent": {
            "id": author.pk,
            "name": author.get_full_name() or author.get_username(),
            "email": author.email,
        },
        "module": {"id": button.module_id, "name": button.module.name},
        "contact": contact_payload(record.get("contact_id")),
    }
    keyed = [(macro_idempotency_key(entry_id), payload)]
    with transaction.atomic():
        return record_keyed_events(connectors, keyed, method=RECORD_METHOD)
