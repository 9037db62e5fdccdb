"""teambox's SQL that the ORM cannot express.

A channel webhook may carry thousands of messages: they are written through picky.rows,
which on PostgreSQL sends them as one JSON document, where Django's bulk_create prepared
every value of every row.
"""

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
