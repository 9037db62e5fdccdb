"""The strategies that order the agents who can take a chat, one small class each, in a
registry like the action types' (actions/registry.py): the only list of them.

A strategy orders the eligible agents it is given (ascending unless `descending`); the
first is picked. Round robin reads the pool's place (teambox.models.AssignmentPool), which
the pick moves on, under the pool's lock.
"""

import random

_strategies = {}


class UnknownStrategy(ValueError):
    pass


def register(*keys):
    """Class decorator: `@register("round_robin") class RoundRobin(Strategy): ...`; more
    keys are other names of the same strategy."""

    def decorate(cls):
        for key in keys:
            if key in _strategies:
                raise ValueError(f"Assignment strategy {key!r} is registered twice.")
            _strategies[key] = cls()
        cls.key = keys[0]
        return cls

    return decorate


def get_strategy(key):
    strategy = _strategies.get(key)
    if strategy is None:
        choices = ", ".join(sorted(_strategies))
        raise UnknownStrategy(f"{key!r} is not an assignment strategy; choose one of {choices}.")
    return strategy


def strategy_keys():
    return sorted(_strategies)


class Strategy:
    key = ""
    # Needs each agent's open chats (the `open_chats` annotation).
    counts_open_chats = False
    # Needs the pool's place (`pool.last_agent_id`).
    reads_pool_place = False
    # Routing rules pick the first of this order (a "most recently seen" rule: descending).
    routing_descending = False

    def order(self, agents, *, pool, descending):
        """The agents in the order they are picked."""
        raise NotImplementedError


def never_first(moment):
    """A sort key that puts "never" (None) before every moment."""
    return (moment is not None, moment)


@register("round_robin")
class RoundRobin(Strategy):
    """By agent id, starting after the pool's last pick and wrapping round: over N picks
    from an unchanged team of k agents, each gets N/k."""

    reads_pool_place = True

    def order(self, agents, *, pool, descending):
        ordered = sorted(agents, key=lambda agent: agent.pk, reverse=descending)
        last = pool.last_agent_id
        if last is None:
            return ordered
        after = [agent for agent in ordered if (agent.pk < last if descending else agent.pk > last)]
        taken = {agent.pk for agent in after}
        return after + [agent for agent in ordered if agent.pk not in taken]


@register("least_recently_assigned", "last_assigned")
class LeastRecentlyAssigned(Strategy):
    """Who waited longest since their last chat (never assigned first)."""

    def order(self, agents, *, pool, descending):
        return sorted(
            agents,
            key=lambda agent: (never_first(agent.last_assigned_at), agent.pk),
            reverse=descending,
        )


@register("last_seen")
class LastSeen(Strategy):
    """By last heartbeat: ascending puts who was seen longest ago first; routing takes the
    most recently seen."""

    routing_descending = True

    def order(self, agents, *, pool, descending):
        return sorted(
            agents,
            key=lambda agent: (never_first(agent.last_seen_at), agent.pk),
            reverse=descending,
        )


@register("random")
class Random(Strategy):
    def order(self, agents, *, pool, descending):
        shuffled = list(agents)
        random.shuffle(shuffled)
        return shuffled


@register("least_busy")
class LeastBusy(Strategy):
    """Fewest open chats first; among equals, who waited longest since their last chat."""

    counts_open_chats = True

    def order(self, agents, *, pool, descending):
        return sorted(
            agents,
            key=lambda agent: (agent.open_chats, never_first(agent.last_assigned_at), agent.pk),
            reverse=descending,
        )
