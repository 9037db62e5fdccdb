"""Pools of agents and their locks: picks from one pool are made one at a time.

A pool is a project's whole team, or the agents of some departments. Reading who can
be picked, ordering them, and writing the pick (the pool's place, the agents' "last
assigned") happen in one transaction under the pool's lock, so two parallel picks never
choose the same "next" agent. Skipping locked rows would be wrong here: a pick must wait
for the one before it, not pass it by.
"""

from dataclasses import dataclass

from ..queries import lock_assignment_pool, record_pool_pick


@dataclass
class Pool:
    project_id: int
    scope: str
    last_agent_id: int | None = None


def pool_scope(departments):
    """The pool's name among the project's: its department ids, sorted ("" for all)."""
    return ",".join(str(pk) for pk in sorted({getattr(d, "pk", d) for d in departments}))


def enter_pool(pool):
    """Take the pool's lock until the transaction ends. Call inside transaction.atomic()."""
    lock_assignment_pool(pool.project_id, pool.scope)


def record_picks(pool, agents, now, *, update_last_assigned):
    """The pool's place moves to the last of `agents`, picked in order; with
    `update_last_assigned` they were last assigned `now`."""
    assigned = [agent.pk for agent in agents] if update_last_assigned else []
    record_pool_pick(pool.project_id, pool.scope, agents[-1].pk, len(agents), assigned, now)
    pool.last_agent_id = agents[-1].pk
