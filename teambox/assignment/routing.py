"""Routing a chat by its channel's rule (or the project's default rule): eligible agents
→ strategy → claim, department first, then the fallback department; the offline message
when nobody can take it."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from ..models import Agent, Conversation, ConversationAssignee, RoutingRule
from .claims import assignees_of, assignment_entry, claim, display_name, names_of
from .offline import offer_offline_message
from .picking import choose, record_pick
from .strategies import get_strategy


def rule_for(channel):
    """The channel's routing rule, else the project's default rule, else the defaults:
    round robin over every agent, online only, capacity respected."""
    rule = (
        RoutingRule.objects.filter(Q(channel=channel) | Q(channel__isnull=True))
        .filter(project_id=channel.project_id)
        .order_by(F("channel_id").asc(nulls_last=True))
        .first()
    )
    return rule or RoutingRule(project_id=channel.project_id)


def routes_chats(project_id):
    """Whether routing can do anything in the project: it has an agent to assign, or a
    rule whose offline message may go out. One query; a project with neither (a shop that
    only automates) routes no chat, so a webhook of thousands of new chats pays nothing."""
    return (
        Agent.objects.filter(project_id=project_id).exists()
        or RoutingRule.objects.filter(project_id=project_id).exists()
    )


def pools_of(rule):
    """The departments tried in turn, each a tuple of ids (empty: every agent)."""
    if rule.department_id is None:
        return [()]
    pools = [(rule.department_id,)]
    if rule.fallback_department_id not in (None, rule.department_id):
        pools.append((rule.fallback_department_id,))
    return pools


@dataclass
class ChatState:
    version: int
    assigned: bool
    waiting_since: datetime | None


def chat_state(conversation):
    found = (
        Conversation.objects.filter(pk=conversation.pk)
        .annotate(assigned=Exists(ConversationAssignee.objects.filter(conversation=OuterRef("pk"))))
        .values_list("assignment_version", "assigned", "waiting_since")
        .get()
    )
    return ChatState(*found)


@dataclass
class Handover:
    agent: object = None  # who took the chat, None when nobody did
    removed: tuple = ()  # the users the chat was taken from
    lost: bool = False  # the chat's assignees changed meanwhile: nothing was written


def hand_over(conversation, rule, version, departments, *, exclude_users=(), now):
    """Pick an agent of the pool and claim the chat for them, in one transaction under the
    pool's lock."""
    strategy = get_strategy(rule.strategy)
    with transaction.atomic():
        choice = choose(
            conversation.project,
            departments=departments,
            strategy=rule.strategy,
            descending=strategy.routing_descending,
            presence="online" if rule.only_online else "any",
            respect_capacity=rule.respect_capacity,
            exclude_users=exclude_users,
            now=now,
        )
        if not choice.agents:
            return Handover()
        agent = choice.agents[0]
        department_id = departments[0] if departments else None
        removed = claim(conversation, version, agent.user_id, department_id=department_id)
        if removed is None:
            return Handover(lost=True)
        record_pick(choice, [agent], update_last_assigned=True, now=now)
    return Handover(agent, tuple(removed))


def route_conversation(conversation, *, send_offline_message=True, author=None):
    """Assign the chat to one agent by its routing rule when it has nobody; returns the
    assignees after the call. A chat someone assigned meanwhile is left as it is. When
    nobody can take it, the rule's offline message goes to the customer (once per wait)
    if `send_offline_message`."""
    rule = rule_for(conversation.channel)
    state = chat_state(conversation)
    if state.assigned:
        return assignees_of(conversation)
    now = timezone.now()
    for departments in pools_of(rule):
        handover = hand_over(conversation, rule, state.version, departments, now=now)
        if handover.agent is not None:
            user = handover.agent.user
            assignment_entry(
                conversation,
                [user],
                author=author,
                strategy=rule.strategy,
                department=conversation.department_id,
            )
            return [user]
        if handover.lost:
            return assignees_of(conversation)
    if send_offline_message:
        offer_offline_message(
            conversation,
            rule,
            waiting_since=state.waiting_since,
            reason="No agent could take the chat",
        )
    return assignees_of(conversation)


def reassign(conversation, rule, *, now, minutes):
    """Hand a chat nobody replied to to another agent of its rule (its assignees only if
    nobody else can take it); True when it changed hands."""
    state = chat_state(conversation)
    current = assignees_of(conversation)
    for departments in pools_of(rule):
        handover = hand_over(
            conversation, rule, state.version, departments, exclude_users=current, now=now
        )
        if handover.agent is not None:
            user = handover.agent.user
            assignment_entry(
                conversation,
                [user],
                text=f"Reassigned from {names_of(handover.removed)} to {display_name(user)}: "
                f"no reply within {minutes} minutes",
                strategy=rule.strategy,
                department=conversation.department_id,
                reassigned_from=[removed.pk for removed in handover.removed],
            )
            return True
        if handover.lost:
            return False
    return False
