"""Writing model rows on the hot path without compiling the SQL every time.

The ingest writes an event on every webhook and the engine a run, its log lines
and its end on every event: always the same statements with other values.
Django compiles each of them anew (a query object, a compiler, quoting every
column) and that costs more CPU than PostgreSQL spends executing them. These
helpers build each statement once per process, from the model's own fields,
and prepare the values with each field's own `get_db_prep_save`, as
`Model.save()` and `QuerySet.update()` do; signals are not sent (the hot-path
models have no receivers). Rows given as values go to PostgreSQL as one JSON
document, their values prepared with the fields' `get_prep_value` (what
`get_db_prep_save` does before adapting a value for the driver).

Still needed without the engine's shared transaction: the ingest INSERTs an event a
webhook (one statement with its connector's look-up), a run's row goes with its log
lines in one statement, crm writes a new lead's contact and tags, and teambox stores a
push of thousands of messages. Their vendor branches stay here, behind these helpers.

Each helper looks the connection up once: every `django.db.connection` attribute
goes through a thread- and task-local lookup, and a row of a dozen fields would
pay it a dozen times.
"""

import json
from enum import Enum
from functools import cache
from types import SimpleNamespace

from django.db import DEFAULT_DB_ALIAS, connections

# Rows per INSERT: keeps the parameter count far under SQLite's and PostgreSQL's limits.
ROWS_PER_INSERT = 200


def insert_rows(objs):
    """INSERT model instances of one model (none saved yet) and set their primary keys.

    Several rows go in one INSERT: on PostgreSQL as one array per column (`UNNEST`,
    as Django's bulk_create does), so the statement is the same whatever the number
    of rows and the driver parses and PostgreSQL prepares it once.
    """
    objs = list(objs)
    if not objs:
        return objs
    connection = connections[DEFAULT_DB_ALIAS]
    rows = [inserted_values(obj, connection) for obj in objs]
    for obj, key in zip(objs, insert_prepared(connection, type(objs[0]), rows), strict=True):
        mark_inserted(obj, key, connection)
    return objs


def insert_values(model, rows):
    """INSERT rows of `model` given as {field attname: value} (the other fields take
    their defaults, as a new instance would) without making model instances; their
    primary keys, in order. For lines a run writes by the dozen.

    On PostgreSQL the rows travel as one JSON document (`rows_document`) that the
    server spreads into columns (`jsonb_populate_recordset`): one `json.dumps` instead
    of preparing every value of every row and dumping an array per column, which cost
    a run more CPU than the statement itself."""
    connection = connections[DEFAULT_DB_ALIAS]
    if rows and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(insert_document_sql(model), [rows_document(model, rows)])
            return [key for (key,) in cursor.fetchall()]
    return insert_prepared(connection, model, [row_values(model, row, connection) for row in rows])


def rows_document(model, rows):
    """`rows` of `model` ({field attname: value}; the other fields their defaults) as a
    JSON array of objects keyed by column, for `jsonb_populate_recordset`."""
    return json.dumps([column_values(model, row) for row in rows], default=str)


def keyed_rows_document(model, keyed_rows):
    """`rows_document` of rows given as (primary key, {field attname: value}), each with
    its key, for `insert_document_sql(model, keyed=True)`."""
    key = model._meta.pk.column
    return json.dumps(
        [{key: pk, **column_values(model, row)} for pk, row in keyed_rows], default=str
    )


def row_document(model, row):
    """One row of `model` as `rows_document` writes each, for `jsonb_populate_record`."""
    return json.dumps(column_values(model, row), default=str)


def column_values(model, row):
    """A row of `model` ({field attname: value}) as {column: value} of every inserted
    field: the given values prepared as `Model.save()` prepares them (`True` for a
    number is 1), the others the field's default. What JSON cannot hold (dates,
    decimals) `json.dumps(default=str)` writes as text, which the columns' types read."""
    values = {}
    for field, attname, pass_through, default in row_spec(model, "postgresql"):
        if attname in row:
            value = row[attname]
            if type(value) not in pass_through:
                value = field.get_prep_value(plain(value))
            values[field.column] = value
        elif default is FRESH_DEFAULT:
            values[field.column] = fresh_default(field)
        else:
            values[field.column] = field.get_default()
    return values


@cache
def insert_document_sql(model, returning=True, keyed=False):
    """The INSERT of the rows of a `rows_document` (PostgreSQL); `keyed`: of a
    `keyed_rows_document`."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    table = quote(model._meta.db_table)
    fields = (model._meta.pk, *inserted_fields(model)) if keyed else inserted_fields(model)
    columns = ", ".join(quote(field.column) for field in fields)
    sql = (
        f"INSERT INTO {table} ({columns}) "
        f"SELECT {columns} FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
    )
    return f"{sql} RETURNING {quote(model._meta.pk.column)}" if returning else sql


def insert_prepared(connection, model, rows):
    """INSERT `rows` (lists of prepared values of inserted_fields(model)); their keys."""
    keys = []
    # SQLite before 3.35 cannot return the keys of an INSERT: one row at a time there.
    per_insert = ROWS_PER_INSERT if connection.features.can_return_rows_from_bulk_insert else 1
    for start in range(0, len(rows), per_insert):
        chunk = rows[start : start + per_insert]
        by_column = len(chunk) > 1 and connection.vendor == "postgresql"
        if by_column:
            params = [list(column) for column in zip(*chunk, strict=True)]
        else:
            params = [value for row in chunk for value in row]
        sql = insert_sql(model, 0 if by_column else len(chunk), per_insert > 1)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            keys += [key for (key,) in cursor.fetchall()] if per_insert > 1 else [cursor.lastrowid]
    return keys


def inserted_values(obj, connection=None):
    """The values of `obj`'s inserted fields, as `Model.save()` prepares them."""
    connection = connection or connections[DEFAULT_DB_ALIAS]
    return [
        field.get_db_prep_save(plain(field.pre_save(obj, add=True)), connection)
        for field in inserted_fields(type(obj))
    ]


def row_values(model, row, connection):
    """The prepared values of a new row of `model` given as {attname: value}, in
    inserted_fields order: the given values prepared as `Model.save()` does, the
    others the field's default (`auto_now_add` and `auto_now`: now)."""
    values = []
    for field, attname, pass_through, default in row_spec(model, connection.vendor):
        if attname in row:
            value = row[attname]
            if type(value) not in pass_through:
                value = field.get_db_prep_save(plain(value), connection)
        elif default is not FRESH_DEFAULT:
            value = default
        else:
            value = field.get_db_prep_save(fresh_default(field), connection)
        values.append(value)
    return values


# Values whose type is among these reach the driver as they are: what the field's
# get_db_prep_save would return for them unchanged.
UNCHANGED_TYPES = {
    "CharField": (str,),
    "TextField": (str,),
    "SlugField": (str,),
    "IntegerField": (int,),
    "PositiveIntegerField": (int,),
    "PositiveSmallIntegerField": (int,),
    "SmallIntegerField": (int,),
    "BigIntegerField": (int,),
    "PositiveBigIntegerField": (int,),
    "AutoField": (int,),
    "BigAutoField": (int,),
    "SmallAutoField": (int,),
    "FloatField": (float,),
    "BooleanField": (bool,),
}
# A field whose default is computed anew for each row (callable, or now).
FRESH_DEFAULT = object()


@cache
def row_spec(model, vendor):
    """(field, attname, types passed through, prepared default or FRESH_DEFAULT) of each
    inserted field of `model`."""
    connection = connections[DEFAULT_DB_ALIAS]
    spec = []
    for field in inserted_fields(model):
        target = field.target_field if field.is_relation else field
        pass_through = UNCHANGED_TYPES.get(target.get_internal_type(), ())
        if field.null:
            pass_through += (type(None),)
        fresh = (
            callable(field.default)
            or getattr(field, "auto_now", False)
            or getattr(field, "auto_now_add", False)
        )
        default = (
            FRESH_DEFAULT if fresh else field.get_db_prep_save(field.get_default(), connection)
        )
        spec.append((field, field.attname, pass_through, default))
    return tuple(spec)


def fresh_default(field):
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        # The field's own pre_save picks now (a datetime, or a date for a DateField).
        return field.pre_save(SimpleNamespace(), add=True)
    return field.get_default()


def mark_inserted(obj, key, connection=None):
    obj.pk = key
    obj._state.adding = False
    obj._state.db = (connection or connections[DEFAULT_DB_ALIAS]).alias


def is_written(obj):
    """Whether `obj`'s row is in the database (in this transaction, at least)."""
    return not obj._state.adding


def mark_unwritten(obj):
    """`obj`'s row is no longer in the database (its INSERT was rolled back); its key stays."""
    obj._state.adding = True


@cache
def next_key_sql(model):
    """SQL giving a new primary key of `model` from its sequence (PostgreSQL), so that a
    row written later can be referred to before it is."""
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        (sequence,) = connection.introspection.get_sequences(cursor, model._meta.db_table)
    return f"nextval('{connection.ops.quote_name(sequence['name'])}')"


def update_row(model, pk, values, where=None):
    """UPDATE one row by primary key: `values` {field name: value}, `where` {field name:
    value} that must hold as well (a fence). Returns the number of rows updated (0 or 1)."""
    connection = connections[DEFAULT_DB_ALIAS]
    sql, params = update_statement(connection, model, pk, values, where or {})
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def insert_values_and_update_row(insert_model, rows, model, pk, values, where=None):
    """`insert_values(insert_model, rows)` then `update_row(model, pk, values, where)`, in
    one statement on PostgreSQL (a run's last log lines and its end travel together).
    Returns the number of rows updated."""
    connection = connections[DEFAULT_DB_ALIAS]
    if not rows or connection.vendor != "postgresql":
        insert_values(insert_model, rows)
        return update_row(model, pk, values, where)
    update, update_params = update_statement(connection, model, pk, values, where or {})
    sql = insert_and_update_sql(insert_document_sql(insert_model), update)
    with connection.cursor() as cursor:
        cursor.execute(sql, [rows_document(insert_model, rows), *update_params])
        return cursor.fetchone()[1]


def insert_values_and_keyed_rows(insert_model, rows, model, keyed_rows):
    """`insert_values(insert_model, rows)` and INSERT rows of `model` given as (primary
    key taken beforehand with `next_key_sql`, {field attname: value}), in one statement
    on PostgreSQL: a run's row is written once, with its last log lines, and the rows of
    the runs of a message that commit together, with theirs."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            for pk, values in keyed_rows:
                cursor.execute(
                    insert_keyed_sql(model), [pk, *row_values(model, values, connection)]
                )
        insert_values(insert_model, rows)
        return
    keyed = keyed_rows_document(model, keyed_rows)
    with connection.cursor() as cursor:
        if not rows:
            cursor.execute(insert_document_sql(model, returning=False, keyed=True), [keyed])
            return
        sql = insert_documents_sql(insert_document_sql(insert_model, returning=False), model)
        cursor.execute(sql, [rows_document(insert_model, rows), keyed])


@cache
def insert_documents_sql(insert, model):
    return f"WITH inserted AS ({insert}) {insert_document_sql(model, returning=False, keyed=True)}"


@cache
def insert_keyed_sql(model):
    """The INSERT of one row of `model`, its primary key included."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    fields = (model._meta.pk, *inserted_fields(model))
    return (
        f"INSERT INTO {quote(model._meta.db_table)} "
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )


@cache
def insert_and_update_sql(insert, update):
    return (
        f"WITH inserted AS ({insert}), updated AS ({update} RETURNING 1) "
        "SELECT inserted.*, (SELECT count(*) FROM updated) FROM inserted"
    )


def update_statement(connection, model, pk, values, where):
    opts = model._meta
    set_fields = tuple(opts.get_field(name) for name in values)
    where_fields = tuple(opts.get_field(name) for name in where)
    params = [
        field.get_db_prep_save(plain(value), connection)
        for field, value in zip(set_fields, values.values(), strict=True)
    ]
    params.append(pk)
    params += [
        field.get_db_prep_value(plain(value), connection)
        for field, value in zip(where_fields, where.values(), strict=True)
    ]
    return update_sql(model, set_fields, where_fields), params


def plain(value):
    """A choice (`Run.Status.RUNNING`) as its value: drivers adapt enums by name."""
    return value.value if isinstance(value, Enum) else value


@cache
def inserted_fields(model):
    return tuple(field for field in model._meta.concrete_fields if not field.primary_key)


@cache
def insert_sql(model, rows, returning=True):
    """The INSERT of `rows` rows of `model`; 0 rows: one array of values per column
    (PostgreSQL)."""
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    fields = inserted_fields(model)
    columns = ", ".join(quote(field.column) for field in fields)
    if rows == 0:
        # Arrays travel in binary where parameters are bound by the server: text arrays
        # cost the driver a regular-expression escape per element.
        binary = connection.settings_dict["OPTIONS"].get("server_side_binding")
        placeholder = "%b" if binary else "%s"
        # The type without its length or precision: `varchar[]`, not `varchar(6)[]`.
        arrays = ", ".join(
            f"({placeholder})::{field.db_type(connection).split('(')[0]}[]" for field in fields
        )
        values = f"SELECT * FROM UNNEST({arrays})"
    else:
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        values = f"VALUES {', '.join([row] * rows)}"
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) {values}"
    return f"{sql} RETURNING {quote(model._meta.pk.column)}" if returning else sql


@cache
def update_sql(model, set_fields, where_fields):
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in set_fields)
    conditions = "".join(f" AND {quote(field.column)} = %s" for field in where_fields)
    return (
        f"UPDATE {quote(model._meta.db_table)} SET {assignments} "
        f"WHERE {quote(model._meta.pk.column)} = %s{conditions}"
    )


def select_models(sql, params, shapes):
    """Run a SELECT whose columns are, in turn, the `fields` of each (model, fields) of
    `shapes` (in the model's field order), then any extra columns. One tuple per row:
    an instance of each model (its other fields deferred), then the extra values as
    the database gave them."""
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    results = []
    for row in rows:
        instances, position = [], 0
        for model, fields in shapes:
            values = list(row[position : position + len(fields)])
            for index, converters in column_converters(fields):
                for converter in converters:
                    values[index] = converter(values[index], fields[index].cached_col, connection)
            names = [field.attname for field in fields]
            instances.append(model.from_db(connection.alias, names, values))
            position += len(fields)
        results.append((*instances, *row[position:]))
    return results


def selected_columns(alias, fields):
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in fields)


@cache
def column_converters(fields):
    """(index, converters) of the fields whose database values need converting, as the
    ORM's compiler finds them (JSON text to Python, SQLite's dates, ...)."""
    connection = connections[DEFAULT_DB_ALIAS]
    found = []
    for index, field in enumerate(fields):
        col = field.cached_col
        converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if converters:
            found.append((index, tuple(converters)))
    return tuple(found)
