"""teambox's SQL that the ORM cannot express.

A channel webhook may carry thousands of messages: they are written through picky.rows,
which on PostgreSQL sends them as one JSON document, where Django's bulk_create prepared
every value of every row.
"""

import hashlib

from django.db import connection

from picky.rows import insert_values, mark_inserted

from .models import Message


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
