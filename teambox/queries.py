"""teambox's SQL that the ORM cannot express.

A channel webhook may carry thousands of messages: they are written through picky.rows,
which on PostgreSQL sends them as one JSON document, where Django's bulk_create prepared
every value of every row.
"""

import hashlib
from dataclasses import dataclass

from django.db import connection

from picky.models import Membership
from picky.rows import insert_values, mark_inserted, select_models, selected_columns

from .models import Agent, AssignmentPool, Conversation, ConversationAssignee, Message


def insert_message_rows(rows):
    """INSERT messages given as {field attname: value}; the saved Message instances, in
    the order of `rows`."""
    messages = []
    for key, row in zip(insert_values(Message, rows), rows, strict=True):
        message = Message(**row)
        mark_inserted(message, key)
        messages.append(message)
    return messages


def lock_assignment_pool(project_id, scope):
    """Hold the lock of a pool of agents (teambox.assignment.pools) until the transaction
    ends. On PostgreSQL a transaction-level advisory lock on a 64-bit key of the pool; on
    SQLite every transaction already holds the database's write lock from its start
    (BEGIN IMMEDIATE, picky/settings.py), which serialises the picks as well."""
    if connection.vendor != "postgresql":
        return
    name = f"teambox.assignment:{project_id}:{scope}".encode()
    key = int.from_bytes(hashlib.blake2b(name, digest_size=8).digest(), "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


AGENT_SHAPE = ((Agent, tuple(Agent._meta.concrete_fields)),)


@dataclass
class AgentQuery:
    """A SELECT of agents built ahead: picks build it before they take the pool's lock
    and run it under the lock."""

    sql: str
    params: list
    counts_open_chats: bool
    reads_pool_place: bool

    def run(self):
        """The agents, by id, each with `open_chats` when counted and the pool's last pick
        as `pool_last_agent_id` when read."""
        agents = []
        for agent, *extra in select_models(self.sql, self.params, AGENT_SHAPE):
            if self.counts_open_chats:
                agent.open_chats = extra.pop(0)
            if self.reads_pool_place:
                agent.pool_last_agent_id = extra.pop(0)
            agents.append(agent)
        return agents


def eligible_agents_query(criteria, pool=None):
    """The AgentQuery of the agents that meet `criteria`
    (teambox.assignment.eligible.Criteria), reading the place of `pool` when given.

    One statement built here: the ORM spent milliseconds compiling it (a subquery per
    agent, filters on three relations), several times what the database spends
    answering it, and under the pool's lock every millisecond counts for each pick."""
    quote = connection.ops.quote_name
    table = {
        model: quote(model._meta.db_table)
        for model in (Agent, AssignmentPool, Conversation, ConversationAssignee, Membership)
    }
    departments = quote(Agent.departments.through._meta.db_table)
    columns, params = [selected_columns("a", AGENT_SHAPE[0][1])], []
    if criteria.counts_open_chats:
        columns.append(
            f"(SELECT COUNT(*) FROM {table[ConversationAssignee]} ca "
            f"JOIN {table[Conversation]} c ON c.id = ca.conversation_id "
            f"WHERE ca.user_id = a.user_id AND c.project_id = %s "
            f"AND c.status IN ({marks(criteria.open_statuses)})) AS open_chats"
        )
        params += [criteria.project_id, *criteria.open_statuses]
    if pool is not None:
        columns.append(
            f"(SELECT p.last_agent_id FROM {table[AssignmentPool]} p "
            "WHERE p.project_id = %s AND p.scope = %s) AS pool_last_agent_id"
        )
        params += [pool.project_id, pool.scope]
    where = ["a.project_id = %s", "a.enabled"]
    params.append(criteria.project_id)
    if criteria.department_ids:
        where.append(
            f"a.id IN (SELECT d.agent_id FROM {departments} d "
            f"WHERE d.department_id IN ({marks(criteria.department_ids)}))"
        )
        params += criteria.department_ids
    if criteria.roles:
        where.append(
            f"a.user_id IN (SELECT m.user_id FROM {table[Membership]} m "
            f"WHERE m.project_id = %s AND m.role IN ({marks(criteria.roles)}))"
        )
        params += [criteria.project_id, *criteria.roles]
    for column, values, negate in (
        ("user_id", criteria.user_ids, False),
        ("hierarchy_level", criteria.levels, False),
        ("user_id", criteria.exclude_user_ids, True),
    ):
        if values:
            where.append(f"a.{column} {'NOT IN' if negate else 'IN'} ({marks(values)})")
            params += values
    cutoff = connection.ops.adapt_datetimefield_value(criteria.online_cutoff)
    if criteria.presence == "online":
        where.append("a.presence = %s AND a.last_seen_at >= %s")
        params += [criteria.online_presence, cutoff]
    elif criteria.presence == "offline":
        where.append("(a.presence <> %s OR a.last_seen_at IS NULL OR a.last_seen_at < %s)")
        params += [criteria.online_presence, cutoff]
    sql = f"SELECT {', '.join(columns)} FROM {table[Agent]} a WHERE {' AND '.join(where)}"
    if criteria.respect_capacity:
        sql = (
            f"SELECT * FROM ({sql}) eligible "
            "WHERE max_open_chats IS NULL OR open_chats < max_open_chats"
        )
    return AgentQuery(f"{sql} ORDER BY id", params, criteria.counts_open_chats, pool is not None)


def marks(values):
    return ", ".join(["%s"] * len(values))


def record_pool_pick(project_id, scope, last_agent_id, picks, agent_ids, now):
    """Write a pick from a pool: the pool's place moves to `last_agent_id` and counts
    `picks` more (the pool's row is created on its first pick), and the agents of
    `agent_ids` were last assigned `now`. One statement on PostgreSQL: the pool's lock is
    held until the commit, so each round trip inside it costs every waiting pick."""
    pool = connection.ops.quote_name(AssignmentPool._meta.db_table)
    upsert = (
        f"INSERT INTO {pool} (project_id, scope, last_agent_id, picks, updated_at) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (project_id, scope) DO UPDATE SET "
        f"last_agent_id = excluded.last_agent_id, picks = {pool}.picks + excluded.picks, "
        "updated_at = excluded.updated_at"
    )
    upsert_params = [project_id, scope, last_agent_id, picks, now]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            agent = connection.ops.quote_name(Agent._meta.db_table)
            cursor.execute(
                f"WITH pool AS ({upsert}) UPDATE {agent} SET last_assigned_at = %s "
                "WHERE id = ANY(%s)",
                [*upsert_params, now, list(agent_ids)],
            )
            return
        cursor.execute(upsert, upsert_params)
    if agent_ids:
        Agent.objects.filter(pk__in=agent_ids).update(last_assigned_at=now)
