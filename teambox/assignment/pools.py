"""Pools of agents and their locks: picks from one pool are made one at a time.

A pool is a project's whole team, or the agents of some departments. Reading who can
be picked, ordering them, and writing the pick (the pool's place, the agents' "last
assigned") happen in one transaction under the pool's lock, so two parallel picks never
choose the same "next" agent. Skipping locked rows would be wrong here: a pick must wait
for the one before it, not pass it by.
"""

from django.db.models import F

from ..models import AssignmentPool
from ..queries import lock_assignment_pool


def pool_scope(departments):
    """The pool's name among the project's: its department ids, sorted ("" for all)."""
    return ",".join(str(pk) for pk in sorted({getattr(d, "pk", d) for d in departments}))


def enter_pool(project, departments):
    """Take the pool's lock until the transaction ends, and read where the pool stands.
    Call inside transaction.atomic()."""
    scope = pool_scope(departments)
    lock_assignment_pool(project.pk, scope)
    pool, _ = AssignmentPool.objects.get_or_create(project=project, scope=scope)
    return pool


def record_picks(pool, agents):
    """The pool's place moves to the last of `agents`, picked in order."""
    AssignmentPool.objects.filter(pk=pool.pk).update(
        last_agent_id=agents[-1].pk, picks=F("picks") + len(agents)
    )
    pool.last_agent_id = agents[-1].pk
