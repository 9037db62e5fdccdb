"""The beat sweep over chats nobody replied to: the offline message after a rule's
no_response_minutes, another agent after its reassign_after_minutes (every
reassign_after_minutes while the customer still waits)."""

from datetime import timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..models import Conversation, Message, RoutingRule
from .eligible import OPEN_STATUSES
from .offline import KEY_PREFIX, offer_offline_message
from .routing import reassign

# Chats of one rule handled per sweep and kind; the next sweep takes the rest.
SWEEP_BATCH = 200


def sweep_unanswered_chats(now=None):
    """(offline messages sent, chats reassigned)."""
    now = now or timezone.now()
    sent = reassigned = 0
    rules = RoutingRule.objects.filter(
        Q(no_response_minutes__isnull=False) | Q(reassign_after_minutes__isnull=False)
    ).select_related("project", "channel")
    for rule in rules:
        if rule.reassign_after_minutes:
            minutes = rule.reassign_after_minutes
            for conversation in due_for_reassignment(rule, now - timedelta(minutes=minutes)):
                reassigned += reassign(conversation, rule, now=now, minutes=minutes)
        if rule.no_response_minutes and rule.offline_message:
            minutes = rule.no_response_minutes
            for conversation in due_for_offline_message(rule, now - timedelta(minutes=minutes)):
                sent += bool(
                    offer_offline_message(
                        conversation,
                        rule,
                        waiting_since=conversation.waiting_since,
                        reason=f"Nobody replied within {minutes} minutes",
                    )
                )
    return sent, reassigned


def waiting_chats(rule):
    """Open chats of the rule's channels whose customer waits for an answer."""
    chats = Conversation.objects.filter(
        project_id=rule.project_id, status__in=OPEN_STATUSES, waiting_since__isnull=False
    )
    if rule.channel_id is not None:
        return chats.filter(channel_id=rule.channel_id)
    own_rules = RoutingRule.objects.filter(project_id=rule.project_id, channel__isnull=False)
    return chats.exclude(channel_id__in=own_rules.values("channel_id"))


def due_for_reassignment(rule, cutoff):
    """Assigned chats waiting since before `cutoff` whose latest assignment is older too."""
    chats = (
        waiting_chats(rule)
        .filter(waiting_since__lte=cutoff, assignments__isnull=False)
        .exclude(assignments__assigned_at__gt=cutoff)
        .distinct()
        .select_related("project", "channel", "contact")
        .order_by("waiting_since", "pk")
    )
    return list(chats[:SWEEP_BATCH])


def due_for_offline_message(rule, cutoff):
    """Chats waiting since before `cutoff` whose contact got no offline message since."""
    offline_sent = Message.objects.filter(
        channel_id=OuterRef("channel_id"),
        contact_id=OuterRef("contact_id"),
        direction=Message.Direction.OUT,
        created_at__gte=OuterRef("waiting_since"),
        idempotency_key__startswith=KEY_PREFIX,
    )
    chats = (
        waiting_chats(rule)
        .filter(waiting_since__lte=cutoff)
        .exclude(Exists(offline_sent))
        .select_related("project", "channel", "contact")
        .order_by("waiting_since", "pk")
    )
    return list(chats[:SWEEP_BATCH])
