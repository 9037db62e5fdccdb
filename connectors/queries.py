"""The connectors' SQL that the ORM cannot express, or compiles slower than the database
answers it, on the hot path (DESIGN.md "The hot path"); the one place that asks which
database it runs on (`connection.vendor`).
"""

import json
from functools import cache

from django.db import connection
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from picky.models import Project
from picky.rows import (
    ROWS_PER_INSERT,
    insert_document_sql,
    insert_rows,
    insert_sql,
    insert_values,
    insert_values_and_keyed_rows,
    insert_values_and_update_row,
    inserted_fields,
    is_written,
    mark_inserted,
    mark_unwritten,
    next_key_sql,
    row_document,
    row_values,
    rows_document,
    select_models,
    selected_columns,
    update_row,
)

from .models import Connector, Counter, Event, Run, RunLog

# Whether a row is in the database yet, and forgetting it was (its INSERT rolled back):
# the state the writers below keep on the models they are given.
__all__ = ["is_written", "mark_unwritten"]

# What the ingest needs of a connector, and whether it has a sample without reading the
# sample (up to a megabyte of JSON).
INGEST_CONNECTOR_FIELDS = tuple(
    field for field in Connector._meta.concrete_fields if field.name in ("id", "project", "enabled")
)
INGEST_CONNECTOR_SHAPE = ((Connector, INGEST_CONNECTOR_FIELDS),)


def connector_for_ingest(token):
    """The connector with this URL token, or None: only what the ingest needs of it, and
    `has_sample`, whether it has its sample."""
    found = select_models(ingest_connector_query(), [token], INGEST_CONNECTOR_SHAPE)
    if not found:
        return None
    connector, has_sample = found[0]
    connector.has_sample = bool(has_sample)
    return connector


def insert_event_for_token(token, row):
    """INSERT an event of the connector with this URL token when that connector is enabled:
    `row` holds the event's values but its project and connector. Returns None when no
    connector has the token, else (connector as connector_for_ingest, the event's id or
    None when the connector is disabled).

    On PostgreSQL the connector is looked up and the event INSERTed in one statement: one
    round trip per webhook."""
    if connection.vendor != "postgresql":
        connector = connector_for_ingest(token)
        if connector is None or not connector.enabled:
            return None if connector is None else (connector, None)
        event = Event(project_id=connector.project_id, connector=connector, **row)
        insert_rows([event])
        return connector, event.pk
    found = select_models(
        accept_event_query(), [token, row_document(Event, row)], INGEST_CONNECTOR_SHAPE
    )
    if not found:
        return None
    connector, has_sample, event_id = found[0]
    connector.has_sample = bool(has_sample)
    return connector, event_id


@cache
def ingest_connector_query():
    table = connection.ops.quote_name(Connector._meta.db_table)
    return (
        f"SELECT {selected_columns('c', INGEST_CONNECTOR_FIELDS)}, "
        f"c.sample_payload IS NOT NULL AS has_sample FROM {table} c WHERE c.token = %s"
    )


# An accepted event's columns that its connector's row gives (accept_event_query).
ACCEPTED_FROM_CONNECTOR = {"project_id": "found.project_id", "connector_id": "found.id"}


@cache
def accept_event_query():
    """PostgreSQL: the connector with a token (its INGEST_CONNECTOR_FIELDS, has_sample) and
    the id of the event INSERTed for it when it is enabled (else null), in one statement.
    The event's values come as one JSON document (`row_document`): one `json.dumps`
    rather than a dozen values prepared and sent one by one."""
    quote = connection.ops.quote_name
    table = quote(Event._meta.db_table)
    fields = inserted_fields(Event)
    values = ", ".join(
        ACCEPTED_FROM_CONNECTOR.get(field.attname, f"given.{quote(field.column)}")
        for field in fields
    )
    returned = ", ".join(f"found.{quote(field.column)}" for field in INGEST_CONNECTOR_FIELDS)
    return (
        f"WITH found AS ({ingest_connector_query()}), "
        f"accepted AS (INSERT INTO {table} "
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"SELECT {values} FROM found, jsonb_populate_record(NULL::{table}, %s::jsonb) given "
        "WHERE found.enabled RETURNING id) "
        f"SELECT {returned}, found.has_sample, (SELECT id FROM accepted) FROM found"
    )


def insert_new_events(rows):
    """INSERT events given as {field attname: value}, but those whose idempotency key an
    event of their connector holds already (a message signalled again); [(id, connector
    id, idempotency key)] of the events inserted. The unique constraint decides, so a
    parallel INSERT of the same key waits for the other's commit and then skips its row.

    PostgreSQL: one statement per ROWS_PER_INSERT rows, each row's values in one JSON
    document, as `insert_values` sends them."""
    quote = connection.ops.quote_name
    returned = ", ".join(quote(column) for column in ("id", "connector_id", "idempotency_key"))
    inserted = []
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start : start + ROWS_PER_INSERT]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                sql = insert_document_sql(Event, returning=False)
                cursor.execute(
                    f"{sql} ON CONFLICT DO NOTHING RETURNING {returned}",
                    [rows_document(Event, chunk)],
                )
                inserted += cursor.fetchall()
            elif connection.features.can_return_rows_from_bulk_insert:
                sql = insert_sql(Event, len(chunk), returning=False)
                params = [value for row in chunk for value in row_values(Event, row, connection)]
                cursor.execute(f"{sql} ON CONFLICT DO NOTHING RETURNING {returned}", params)
                inserted += cursor.fetchall()
            else:
                # SQLite before 3.35 returns no rows from an INSERT: one row at a time.
                for row in chunk:
                    cursor.execute(
                        f"{insert_sql(Event, 1, returning=False)} ON CONFLICT DO NOTHING",
                        row_values(Event, row, connection),
                    )
                    if cursor.rowcount:
                        inserted.append(
                            (cursor.lastrowid, row["connector_id"], row["idempotency_key"])
                        )
    return inserted


def increment_counter(project_id, name, amount):
    """Add `amount` to a named counter, creating it, in one statement: concurrent increments
    serialise on the row, and each caller reads back exactly the value its own increment
    produced."""
    table = Counter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (project_id, name, value, updated_at) VALUES (%s, %s, %s, %s) "
            f"ON CONFLICT (project_id, name) DO UPDATE SET value = {table}.value + excluded.value, "
            "updated_at = excluded.updated_at RETURNING value",
            [project_id, name, amount, timezone.now()],
        )
        return cursor.fetchone()[0]


# A run never needs its connector's sample (up to a megabyte of JSON): not loaded.
SAMPLE_FIELDS = ("connector__sample_payload", "connector__mapped_paths")
# The event, its connector (but its sample), its project and whether it has a run.
EVENT_FOR_RUN_SHAPES = (
    (Event, tuple(Event._meta.concrete_fields)),
    (
        Connector,
        tuple(
            field
            for field in Connector._meta.concrete_fields
            if f"connector__{field.name}" not in SAMPLE_FIELDS
        ),
    ),
    (Project, tuple(Project._meta.concrete_fields)),
)


def events_for_runs(event_ids):
    """{event id: (event, its connector but its sample, its project, the id of its run or
    None)} for the events of `event_ids` that exist, in one query."""
    rows = select_models(event_for_run_query(len(event_ids)), list(event_ids), EVENT_FOR_RUN_SHAPES)
    return {row[0].pk: row for row in rows}


@cache
def event_for_run_query(events):
    """The SELECT behind EVENT_FOR_RUN_SHAPES for this many events, written once: the
    ORM took longer to compile it (joins, deferred fields, a subquery) than the run
    took to execute."""
    (_, event_fields), (_, connector_fields), (_, project_fields) = EVENT_FOR_RUN_SHAPES
    quote = connection.ops.quote_name
    runs = quote(Run._meta.db_table)
    return (
        f"SELECT {selected_columns('e', event_fields)}, "
        f"{selected_columns('c', connector_fields)}, {selected_columns('p', project_fields)}, "
        f"(SELECT r.id FROM {runs} r WHERE r.event_id = e.id AND r.replay_of_id IS NULL "
        "LIMIT 1) "
        f"FROM {quote(Event._meta.db_table)} e "
        f"JOIN {quote(Connector._meta.db_table)} c ON c.id = e.connector_id "
        f"JOIN {quote(Project._meta.db_table)} p ON p.id = c.project_id "
        f"WHERE e.id IN ({', '.join(['%s'] * events)})"
    )


def runs_can_share_a_commit():
    """Whether the runs of a message can be written together at one commit (a shared
    RunTransaction): on PostgreSQL a run's key comes from the sequence at its hand-off
    and its row is written later; elsewhere the row is INSERTed with the hand-off."""
    return connection.vendor == "postgresql"


def hand_event_to_run(event, run):
    """Mark the queued `event` processed and give `run` its key; False when the event is
    no longer queued. On PostgreSQL one UPDATE ... RETURNING the key from the sequence,
    the run's row to be written later; elsewhere the UPDATE and the run's INSERT."""
    if connection.vendor != "postgresql":
        if not update_row(
            Event, event.pk, {"status": Event.Status.PROCESSED},
            where={"status": Event.Status.QUEUED},
        ):  # fmt: skip
            return False
        insert_rows([run])
        return True
    params = [Event.Status.PROCESSED.value, event.pk, Event.Status.QUEUED.value]
    with connection.cursor() as cursor:
        cursor.execute(hand_event_to_run_sql(), params)
        row = cursor.fetchone()
    if row is None:
        return False
    run.pk = row[0]
    return True


@cache
def hand_event_to_run_sql():
    return (
        f"UPDATE {connection.ops.quote_name(Event._meta.db_table)} SET status = %s "
        f"WHERE id = %s AND status = %s RETURNING {next_key_sql(Run)}"
    )


def insert_event(event):
    """INSERT an event (its key set on it)."""
    insert_rows([event])


def insert_runs(new_runs):
    """INSERT the rows of runs [(run, its log rows)] as they stand, the runs' keys taken
    beforehand (hand_event_to_run), with their log lines: one statement on PostgreSQL."""
    insert_values_and_keyed_rows(
        RunLog,
        [row for _, rows in new_runs for row in rows],
        Run,
        [(run.pk, run_row(run)) for run, _ in new_runs],
    )
    for run, _ in new_runs:
        mark_inserted(run, run.pk)


def run_row(run):
    """The run's row as it stands, {field attname: value}."""
    row = {field.attname: getattr(run, field.attname) for field in inserted_fields(Run)}
    row["created_at"] = run.started_at
    return row


def update_run_and_insert_logs(run, values, log_rows, where):
    """INSERT `log_rows`, then UPDATE the run's row with `values` where `where` holds
    (one statement on PostgreSQL); the number of runs updated."""
    return insert_values_and_update_row(RunLog, log_rows, Run, run.pk, values, where=where)


def insert_log_lines(log_rows):
    """INSERT log lines of runs whose rows are written."""
    insert_values(RunLog, log_rows)


def with_outcome(events):
    """`events` with `outcome`: the status of each one's latest run (succeeded, failed,
    stopped, waiting, ...), or the event's own while it has none (queued, rejected). One
    lookup per event listed, by the runs' event index."""
    latest = Run.objects.filter(event=OuterRef("pk")).order_by("-id").values("status")[:1]
    return events.annotate(outcome=Coalesce(Subquery(latest), "status"))


def payload_contains(words):
    """A filter of events whose payload holds each of `words` (a name, a number, an e-mail),
    case-insensitively, in its JSON text. SQLite keeps that text as written, non-ASCII
    letters escaped (\\u00e9), PostgreSQL as jsonb prints it: both spellings are looked for."""
    condition = Q()
    for word in words:
        escaped = json.dumps(word)[1:-1]
        found = Q(payload__icontains=word)
        if escaped != word:
            found |= Q(payload__icontains=escaped)
        condition &= found
    return condition
