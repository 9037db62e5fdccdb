"""Data-storage rows as templates read them: `storage.<table>.<row>.<field>`.

A run loads only the rows its connector's templates name (`storage_rows` finds them once
per connector definition; connectors registers both as a template namespace), in one
query, and none when they name none."""

import json
import re
from functools import reduce
from operator import or_

from django.db.models import Q

from .models import Module, Record
from .services import record_as_dict

# The rows a run loads at most: a template naming a whole table (`storage.prices`) reads
# its first rows by name.
MAX_STORAGE_ROWS = 1000

# A JMESPath identifier, bare or quoted ("Price list").
_NAME = r'(?:[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*")'
STORAGE_PATH = re.compile(rf"\bstorage\s*\.\s*({_NAME})(?:\s*\.\s*({_NAME}))?")


def storage_rows(strings):
    """The (table, row) pairs that `strings` (templates, iterator paths) read from
    `storage` (row None: the whole table), as written."""
    return frozenset(
        (identifier(table), identifier(row) if row else None)
        for text in strings
        if "storage" in text
        for table, row in STORAGE_PATH.findall(text)
    )


def identifier(name):
    """A JMESPath identifier as the data's key: a quoted one unquoted."""
    if not name.startswith('"'):
        return name
    try:
        return json.loads(name)
    except ValueError:
        return name[1:-1]  # an escape JMESPath refuses: the template fails to compile anyway


def storage_namespace(project, wanted):
    """{table: {row: the row as record_as_dict shows it}} of the project's data-storage
    rows that `wanted` names, as (table, row) pairs written in templates (row None: the
    whole table), keyed as written there. A table is found whatever the case of its name,
    a row by its exact name; those the project lacks are absent (their paths render
    empty)."""
    if not wanted:
        return {}
    spellings = {}
    for table, _row in wanted:
        spellings.setdefault(table.lower(), set()).add(table)
    conditions = [
        Q(module__name__iexact=table, **({} if row is None else {"name": row}))
        for table, row in wanted
    ]
    rows = (
        Record.objects.filter(
            reduce(or_, conditions), project=project, module__kind=Module.Kind.STORAGE
        )
        .exclude(name="")
        .select_related("module", "owner")
        .order_by("module__name", "name")[:MAX_STORAGE_ROWS]
    )
    namespace = {}
    for row in rows:
        for written in spellings.get(row.module.name.lower(), ()):
            namespace.setdefault(written, {})[row.name] = record_as_dict(row)
    return namespace
