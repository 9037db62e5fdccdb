"""Records' SQL that the ORM writes too slowly: setting the data of many records at once.

Django's bulk_update writes `CASE WHEN id = 1 THEN ... WHEN id = 2 ...`: PostgreSQL
walks the branches for every row and casts each JSON parameter again, which made an
update of 2,000 records take seconds. On PostgreSQL the new data travel as one JSON
document joined to the table by id; SQLite runs one short UPDATE per record.
"""

import json

from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

from picky.rows import insert_values

from .models import Record, RecordEntry

TABLE = Record._meta.db_table


def write_data(records, updated_at):
    """Save `data` and `updated_at` of `records` (saved Record instances)."""
    if not records:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {TABLE} AS record SET data = changed.data, updated_at = %s "
                "FROM jsonb_to_recordset(%s::jsonb) AS changed(id bigint, data jsonb) "
                "WHERE record.id = changed.id",
                [updated_at, json.dumps([{"id": r.pk, "data": r.data} for r in records])],
            )
        else:
            cursor.executemany(
                f"UPDATE {TABLE} SET data = %s, updated_at = %s WHERE id = %s",
                [(json.dumps(r.data), updated_at, r.pk) for r in records],
            )


def insert_records(rows):
    """INSERT records given as values (one JSON document per batch on PostgreSQL); their ids."""
    return insert_values(Record, rows)


def insert_entries(rows):
    """INSERT timeline lines given as values."""
    return insert_values(RecordEntry, rows)


def containment_serves_equality():
    """Whether an equality can go through the GIN index on data (PostgreSQL's @>)."""
    return connection.vendor == "postgresql"


def has_element(key, choice):
    """A Q: the list under `key` of a record's data holds `choice`."""
    if connection.vendor == "postgresql":
        return Q(data__contains={key: [choice]})
    # SQLite: one of the list's elements is the choice (json_each walks the list).
    return Q(
        RawSQL(
            'EXISTS (SELECT 1 FROM json_each("crm_record"."data", %s) WHERE value = %s)',
            (f'$."{key}"', choice),
            output_field=BooleanField(),
        )
    )


def create_index(sql):
    """Run a CREATE [UNIQUE] INDEX statement, CONCURRENTLY on PostgreSQL (outside a
    transaction: a record list is never locked while an index builds), if not there yet."""
    head = "CREATE UNIQUE INDEX" if sql.startswith("CREATE UNIQUE INDEX") else "CREATE INDEX"
    extra = " CONCURRENTLY" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(sql.replace(head, f"{head}{extra} IF NOT EXISTS", 1))


def drop_index(name):
    extra = " CONCURRENTLY" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f'DROP INDEX{extra} IF EXISTS "{name}"')
