"""Who can take a chat: the pipeline's first stage.

Enabled agents of the project, narrowed by departments, project roles, users and
hierarchy levels; by presence (online means a fresh heartbeat, teambox.agents); and,
when capacity is respected, only those with fewer open chats than their maximum.
"""

from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from ..agents import online_cutoff
from ..models import Agent, Conversation, ConversationAssignee

PRESENCES = ("online", "offline", "any")
# The chats that count against an agent's capacity.
OPEN_STATUSES = (Conversation.Status.OPEN, Conversation.Status.PENDING)


def eligible_agents(
    project,
    *,
    departments=(),
    roles=(),
    users=(),
    levels=(),
    presence="online",
    respect_capacity=False,
    exclude_users=(),
    counts_open_chats=False,
    now=None,
):
    """A queryset of the agents who can be picked, with their users. `departments` and
    `users` are instances or ids; an agent in any of the departments qualifies. With
    `counts_open_chats` (or `respect_capacity`) each agent has `open_chats`."""
    if presence not in PRESENCES:
        raise ValueError(f"{presence!r} is not a presence; choose one of {', '.join(PRESENCES)}.")
    agents = Agent.objects.filter(project=project, enabled=True).select_related("user")
    if departments:
        agents = agents.filter(
            pk__in=Agent.departments.through.objects.filter(
                department_id__in=ids_of(departments)
            ).values("agent_id")
        )
    if roles:
        agents = agents.filter(
            user__memberships__project=project, user__memberships__role__in=list(roles)
        )
    if users:
        agents = agents.filter(user_id__in=ids_of(users))
    if levels:
        agents = agents.filter(hierarchy_level__in=list(levels))
    if exclude_users:
        agents = agents.exclude(user_id__in=ids_of(exclude_users))
    if presence != "any":
        online = Q(presence=Agent.Presence.ONLINE, last_seen_at__gte=online_cutoff(now))
        agents = agents.filter(online if presence == "online" else ~online)
    if counts_open_chats or respect_capacity:
        agents = agents.annotate(open_chats=open_chats_of(project))
    if respect_capacity:
        agents = agents.filter(
            Q(max_open_chats__isnull=True) | Q(open_chats__lt=F("max_open_chats"))
        )
    return agents


def open_chats_of(project):
    """Per agent (an OuterRef), the project's open and pending chats assigned to them."""
    counted = (
        ConversationAssignee.objects.filter(
            user_id=OuterRef("user_id"),
            conversation__project=project,
            conversation__status__in=OPEN_STATUSES,
        )
        .order_by()
        .values("user_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def ids_of(things):
    return [getattr(thing, "pk", thing) for thing in things]
