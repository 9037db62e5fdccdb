"""Assignment of chats to agents, a pipeline: eligible agents (eligible.py) → strategy
(strategies.py, one small class each) → claim (claims.py), under a lock per pool of
agents (pools.py); routing rules applied (routing.py), the offline message (offline.py)
and the sweep over chats nobody replied to (sweep.py)."""

from .claims import NOTE_MAX_LENGTH, assign_users, remove_assignees
from .picking import pick_agents
from .routing import route_conversation, routes_chats, rule_for
from .strategies import UnknownStrategy, strategy_keys
from .sweep import sweep_unanswered_chats

__all__ = [
    "NOTE_MAX_LENGTH",
    "UnknownStrategy",
    "assign_users",
    "pick_agents",
    "remove_assignees",
    "route_conversation",
    "routes_chats",
    "rule_for",
    "strategy_keys",
    "sweep_unanswered_chats",
]
