"""Who can take a chat: the pipeline's first stage.

Enabled agents of the project, narrowed by departments, project roles, users and
hierarchy levels; by presence (online means a fresh heartbeat, teambox.agents); and,
when capacity is respected, only those with fewer open chats than their maximum.
"""

from dataclasses import dataclass
from datetime import datetime

from ..agents import online_cutoff
from ..models import Agent, Conversation
from ..queries import eligible_agents_query

PRESENCES = ("online", "offline", "any")
# The chats that count against an agent's capacity.
OPEN_STATUSES = (Conversation.Status.OPEN, Conversation.Status.PENDING)


@dataclass
class Criteria:
    """What an agent must be to be picked (teambox.queries.select_eligible_agents)."""

    project_id: int
    department_ids: list
    roles: list
    user_ids: list
    levels: list
    exclude_user_ids: list
    presence: str
    online_cutoff: datetime
    respect_capacity: bool
    counts_open_chats: bool
    online_presence: str = Agent.Presence.ONLINE.value
    open_statuses: tuple = tuple(status.value for status in OPEN_STATUSES)


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
    pool=None,
    now=None,
):
    """The query (teambox.queries.AgentQuery) of the agents who can be picked.
    `departments` and `users` are instances or ids; an agent in any of the departments
    qualifies. With `counts_open_chats` (or `respect_capacity`) each agent has
    `open_chats`; given a pool (pools.Pool), each has the pool's last pick as
    `pool_last_agent_id`."""
    if presence not in PRESENCES:
        raise ValueError(f"{presence!r} is not a presence; choose one of {', '.join(PRESENCES)}.")
    criteria = Criteria(
        project_id=project.pk,
        department_ids=ids_of(departments),
        roles=[str(role) for role in roles],
        user_ids=ids_of(users),
        levels=[int(level) for level in levels],
        exclude_user_ids=ids_of(exclude_users),
        presence=presence,
        online_cutoff=online_cutoff(now),
        respect_capacity=respect_capacity,
        counts_open_chats=counts_open_chats or respect_capacity,
    )
    return eligible_agents_query(criteria, pool)


def ids_of(things):
    return [getattr(thing, "pk", thing) for thing in things]
