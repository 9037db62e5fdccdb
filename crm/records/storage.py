"""Data storage tables: modules of kind "storage" whose records are rows keyed by a
name, on the same JSON record store. Rows are read in templates as
`storage.<table>.<row>.<field>`. Writes to rows start no record workflows."""

from django.db import transaction

from .models import Module, Record
from .services import (
    add_record,
    find_module,
    record_as_dict,
    unknown_module_message,
    update_record,
)
from .values import RecordError


def find_table(project, name):
    """The project's data storage table `name`, or RecordError naming its tables."""
    table = find_module(project, name, kind=Module.Kind.STORAGE)
    if table is None:
        raise RecordError(
            unknown_module_message(project, name, kind=Module.Kind.STORAGE), field="table"
        )
    return table


def find_row(table, name, *, lock=False):
    name = clean_row_name(name)
    rows = Record.objects.filter(module=table, name=name).select_related("module", "owner")
    row = (rows.select_for_update(of=("self",)) if lock else rows).first()
    if row is None:
        raise RecordError(f"{table} has no row “{name}”.", field="name")
    return row


def create_row(table, name, values):
    """A new row `name` of `table` with `values`; RecordError when the name is taken."""
    return add_record(table, values, name=clean_row_name(name), trigger_workflows=False)


def update_row(table, name, values):
    """Set `values` on row `name` (None or "" empties a field); the row."""
    row = find_row(table, name, lock=True)
    update_record(row, values, trigger_workflows=False)
    return row


def upsert_row(table, name, values, *, author=None, entry_text=""):
    """Set `values` on row `name` (a clean name) of `table`, or add the row, which then
    needs a value for each required field; whether it was added."""
    with transaction.atomic():
        row = table.records.filter(name=name).select_for_update(of=("self",)).first()
        if row is not None:
            update_record(
                row, values, author=author, trigger_workflows=False, entry_text=entry_text
            )
            return False
    add_record(table, values, name=name, author=author, trigger_workflows=False,
               allow_partial=False)  # fmt: skip
    return True


def empty_row(table, name):
    """Clear every value of row `name`, keeping the row; the row."""
    row = find_row(table, name, lock=True)
    update_record(row, dict.fromkeys(row.data), trigger_workflows=False, entry_text="Emptied")
    return row


def delete_row(table, name):
    find_row(table, name).delete()


def storage_values(project, table_name, row_name):
    """Row `row_name` of table `table_name` as templates see it ({} when either is
    missing: a missing path renders empty)."""
    table = find_module(project, table_name, kind=Module.Kind.STORAGE)
    if table is None:
        return {}
    row = Record.objects.filter(module=table, name=str(row_name or "").strip()).first()
    return record_as_dict(row) if row else {}


def clean_row_name(name):
    """A row's name as rows are written and read: trimmed, not empty, at most 200."""
    name = str(name or "").strip()
    if not name:
        raise RecordError("Name the row.", field="name")
    if len(name) > Record._meta.get_field("name").max_length:
        raise RecordError("A row name has at most 200 characters.", field="name")
    return name
