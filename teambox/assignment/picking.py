"""Picking agents: eligible agents → strategy, under the pool's lock (pools.py).

`pick_agents` is the pipeline's first two stages on their own, for actions that list
agents (get_users); routing adds the claim of the chat (routing.py) in the same
transaction.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .eligible import eligible_agents
from .pools import Pool, enter_pool, pool_scope, record_picks
from .strategies import get_strategy


@dataclass
class Choice:
    """The agents in the order a strategy picks them, and the pool they come from."""

    pool: object
    agents: list


def choose(project, *, departments=(), strategy, descending=False, now=None, **filters):
    """Lock the pool and order its eligible agents; nothing is written. Call inside
    transaction.atomic(); `filters` are eligible_agents'."""
    chosen = get_strategy(strategy)
    pool = Pool(project.pk, pool_scope(departments))
    query = eligible_agents(
        project,
        departments=departments,
        counts_open_chats=chosen.counts_open_chats,
        pool=pool if chosen.reads_pool_place else None,
        now=now,
        **filters,
    )
    enter_pool(pool)
    agents = query.run()
    if chosen.reads_pool_place:
        pool.last_agent_id = agents[0].pool_last_agent_id if agents else None
    return Choice(pool, chosen.order(agents, pool=pool, descending=descending))


def record_pick(choice, agents, *, update_last_assigned, now):
    """Write the pick of `agents` (the first of `choice.agents`): the pool's place, and
    with `update_last_assigned` the agents' last assigned time."""
    if not agents:
        return
    record_picks(choice.pool, agents, now, update_last_assigned=update_last_assigned)
    if update_last_assigned:
        for agent in agents:
            agent.last_assigned_at = now


def pick_agents(
    project,
    *,
    departments=(),
    roles=(),
    users=(),
    levels=(),
    presence="online",
    strategy,
    descending=False,
    limit=None,
    respect_capacity=False,
    update_last_assigned=False,
):
    """The project's agents who match, in the strategy's order, at most `limit` (None:
    all). `presence` is "online", "offline" or "any"; `departments` and `users` are
    instances or ids. Every call is a pick: round robin goes on after the last agent
    returned. With `update_last_assigned` the returned agents' last assigned time is now,
    written under the same lock. Each agent's user loads when read (prefetch_related_objects
    for many)."""
    now = timezone.now()
    with transaction.atomic():
        choice = choose(
            project,
            departments=departments,
            roles=roles,
            users=users,
            levels=levels,
            presence=presence,
            respect_capacity=respect_capacity,
            strategy=strategy,
            descending=descending,
            now=now,
        )
        picked = choice.agents if limit is None else choice.agents[:limit]
        record_pick(choice, picked, update_last_assigned=update_last_assigned, now=now)
    return picked
