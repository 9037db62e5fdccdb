"""The index of each field marked sortable or unique: an expression index on the field's
sort expression (crm/records/values.py) and the record id, only over its module's
records (`WHERE module_id = N`); a unique field's is a unique index on the expression,
so the database refuses a second record with the value whatever writes it.

PostgreSQL builds and drops them CONCURRENTLY (writes to other records go on meanwhile),
which cannot run inside a transaction: they follow the field's save, on commit. SQLite
builds them as they are. A unique index that cannot be built (records share a value
written between the check and the build) is dropped and the field saved as not unique,
with the reason in the log: the flag never claims what the database does not enforce.
"""

import logging

from django.db import connection
from django.db.models import Count, F, Index, Q, UniqueConstraint
from django.db.utils import DatabaseError

from .criteria import fields_changed
from .models import Field, Record
from .queries import create_index, drop_index
from .values import FIELD_TYPES

logger = logging.getLogger(__name__)


def sort_index_name(field_id):
    return f"record_f{field_id}_sort"


def unique_index_name(field_id):
    return f"record_f{field_id}_unique"


def _sort_index(field):
    expression = FIELD_TYPES[field.type].sort_expression(field.key)
    return Index(
        expression, F("id"), name=sort_index_name(field.pk), condition=Q(module_id=field.module_id)
    )


def _unique_index(field):
    expression = FIELD_TYPES[field.type].sort_expression(field.key)
    return UniqueConstraint(
        expression, name=unique_index_name(field.pk), condition=Q(module_id=field.module_id)
    )


def _create(definition):
    with connection.schema_editor(atomic=False) as editor:
        sql = str(definition.create_sql(Record, editor))
    create_index(sql)


def sync_field_indexes(field, previous=None):
    """Build the indexes `field` needs and drop those it no longer needs; `previous` is
    (type, key, sortable, unique) as the field was before this save, None for a new one."""
    changed = previous is not None and previous[:2] != (field.type, field.key)
    was_sortable, was_unique = previous[2:] if previous else (False, False)
    if was_sortable and (changed or not field.sortable):
        drop_index(sort_index_name(field.pk))
    if was_unique and (changed or not field.unique):
        drop_index(unique_index_name(field.pk))
    if field.sortable and (changed or not was_sortable):
        _create(_sort_index(field))
    if field.unique and (changed or not was_unique):
        try:
            _create(_unique_index(field))
        except DatabaseError as exc:
            drop_index(unique_index_name(field.pk))
            Field.objects.filter(pk=field.pk).update(unique=False)
            fields_changed(field.module_id)
            logger.warning("Field %s cannot be unique: %s", field.pk, exc)


def duplicated_values(field):
    """Up to three values more than one record of the field's module holds."""
    expression = FIELD_TYPES[field.type].sort_expression(field.key)
    return list(
        Record.objects.filter(module_id=field.module_id)
        .annotate(value=expression)
        .filter(value__isnull=False)
        .values("value")
        .annotate(records=Count("id"))
        .filter(records__gt=1)
        .values_list("value", flat=True)[:3]
    )


def records_with_value(module_id, key):
    return Record.objects.filter(module_id=module_id, data__has_key=key).count()
