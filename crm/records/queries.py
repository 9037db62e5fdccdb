"""Records' SQL that the ORM writes too slowly: setting the data of many records at once,
and running a search whose statement the ORM compiled once for its shape.

Django's bulk_update writes `CASE WHEN id = 1 THEN ... WHEN id = 2 ...`: PostgreSQL
walks the branches for every row and casts each JSON parameter again, which made an
update of 2,000 records take seconds. On PostgreSQL the new data travel as one JSON
document joined to the table by id; SQLite runs one short UPDATE per record.
"""

import json

from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import Expression, RawSQL

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
    """A Q on SQLite: the list under `key` of a record's data holds `choice` (json_each
    walks the list; PostgreSQL's searches use containment instead)."""
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


class Slot:
    """The place of a search's value among its values (criteria.RecordFilter), held by an
    Operand while the search's statement is compiled."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


class Operand(Expression):
    """One value compared with, as the database takes it: a single parameter, which the
    ORM neither converts nor escapes (a Slot stays a Slot)."""

    def __init__(self, value, output_field):
        super().__init__(output_field=output_field)
        self.value = value

    def as_sql(self, compiler, connection):
        return "%s", [self.value]


# Searches' statements by shape, each compiled once per process: building and compiling
# a search's queryset took the ORM longer than PostgreSQL took to run it.
_statements = {}
STATEMENTS_CACHE_SIZE = 1000


def select_records(shape, values, module, build):
    """The records of a search of `module`: the statement of its shape (compiled from the
    queryset `build()` gives, its values held by Slots), run with `values`."""
    key = (connection.alias, connection.vendor, module.pk, shape)
    statement = _statements.get(key)
    if statement is None:
        if len(_statements) >= STATEMENTS_CACHE_SIZE:
            _statements.clear()
        statement = _statements[key] = SearchStatement(build())
    return statement.records(values, module)


class SearchStatement:
    """A search's SQL and parameters, where its Slots are, and how its rows become
    records with their select_related objects, as the ORM's own iterator makes them."""

    def __init__(self, queryset):
        compiler = queryset.query.get_compiler(queryset.db)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        self.slots = [
            (position, param.index)
            for position, param in enumerate(self.params)
            if isinstance(param, Slot)
        ]
        select = [column for column, _sql, _alias in compiler.select]
        self.converters = list(compiler.get_converters(select).items())
        info = compiler.klass_info
        self.model = info["model"]
        self.columns = self._columns(select, info)
        self.related = [
            (related["model"], related["local_setter"], self._columns(select, related))
            for related in info["related_klass_infos"]
        ]

    @staticmethod
    def _columns(select, info):
        """(first, end, attnames, the pk's place among them) of one model's columns."""
        positions = info["select_fields"]
        names = [select[position].target.attname for position in positions]
        return positions[0], positions[-1] + 1, names, names.index(info["model"]._meta.pk.attname)

    def records(self, values, module):
        params = list(self.params)
        for position, index in self.slots:
            params[position] = values[index]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        db, found = connection.alias, []
        module_field = self.model._meta.get_field("module")
        for row in rows:
            row = list(row)
            for position, (functions, expression) in self.converters:
                for function in functions:
                    row[position] = function(row[position], expression, connection)
            first, end, names, _pk = self.columns
            record = self.model.from_db(db, names, row[first:end])
            # As the module's related manager does: each record's module is this one.
            module_field.set_cached_value(record, module)
            for model, local_setter, (first, end, names, pk) in self.related:
                values_of = row[first:end]
                local_setter(
                    record, None if values_of[pk] is None else model.from_db(db, names, values_of)
                )
            found.append(record)
        return found
