"""What journeys does with the messages contacts send (teambox's `messages_received`):
a contact in a chatbot flow moves it on, any other contact may get a smart reply. A
contact whose smart replies are paused gets nothing automatic.

Most batches need neither: one query per batch asks whether the project has an enabled
smart reply and whether any sender is in a flow, and that is all such a batch costs.
"""

import logging

from django.db.models import Exists
from django.utils import timezone

from crm import services as crm
from picky.models import Project
from teambox.models import Message

from .flows.models import FlowSession
from .flows.services import answer_flow
from .replies.models import SmartReply
from .replies.services import apply_rule, enabled_rules, rule_for

logger = logging.getLogger(__name__)


def first_look(project_id, contact_ids):
    """(whether the project has an enabled smart reply, whether any of the contacts is in
    a flow), in one query for up to crm.BULK_BATCH contacts (one more per further chunk)."""
    ids = sorted(contact_ids)
    chunks = [ids[start : start + crm.BULK_BATCH] for start in range(0, len(ids), crm.BULK_BATCH)]
    has_rules, in_flow = (
        Project.objects.filter(pk=project_id)
        .values_list(
            Exists(SmartReply.objects.filter(project_id=project_id, enabled=True)),
            Exists(FlowSession.objects.filter(contact_id__in=chunks[0])),
        )
        .get()
    )
    for chunk in chunks[1:]:
        if in_flow:
            break
        in_flow = FlowSession.objects.filter(contact_id__in=chunk).exists()
    return has_rules, in_flow


def sessions_of(contact_ids):
    """{contact id: session id} of those contacts in a flow."""
    ids = sorted(contact_ids)
    sessions = {}
    for start in range(0, len(ids), crm.BULK_BATCH):
        sessions.update(
            FlowSession.objects.filter(
                contact_id__in=ids[start : start + crm.BULK_BATCH]
            ).values_list("contact_id", "pk")
        )
    return sessions


def answer_messages(messages, channel):
    """Drive the flows of the senders in one, and answer the others' messages by the
    project's smart replies, in the order received."""
    inbound = [
        message
        for message in messages
        if message.direction == Message.Direction.IN and message.contact is not None
    ]
    if not inbound:
        return
    contact_ids = {message.contact_id for message in inbound}
    has_rules, in_flow = first_look(channel.project_id, contact_ids)
    if not has_rules and not in_flow:
        return
    sessions = sessions_of(contact_ids) if in_flow else {}
    rules = enabled_rules(channel.project_id) if has_rules else []
    now = timezone.now()
    for message in inbound:
        try:
            answer_message(message, channel, sessions, rules, now)
        except Exception:
            # One contact's failure must not leave the rest of the batch unanswered; the
            # message itself is stored whatever happens here.
            logger.exception("Answering inbound message %s failed", message.pk)


def answer_message(message, channel, sessions, rules, now):
    if crm.smart_replies_paused(message.contact, now):
        return
    if message.contact_id in sessions:
        answer_flow(sessions[message.contact_id], message, now)
        return
    rule = rule_for(rules, message.body)
    if rule is not None:
        apply_rule(rule, message, channel)
