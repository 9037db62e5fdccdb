"""CSV import and export of a module's records.

`import_batches` writes in batches (bulk inserts and updates, one transaction each, in
which its caller saves its progress: crm/records/imports.py), so 100,000 rows go in
within a minute on PostgreSQL; `import_records` runs it whole and returns the report. A
row whose values are wrong is refused with its reason and the others go in; a batch the
database refuses as a whole (a duplicate written meanwhile by someone else) is retried
row by row. If the import stops for any other reason, ImportInterrupted says which rows
went in (every batch before the failing one). Imports start no record workflows unless
asked: a file of 100,000 rows is not 100,000 "record created" events. A data-storage
table's rows get their names from a column mapped to ROW_NAME, cleaned as row_create
cleans them, and can be matched on them.

Row numbers in reports are the file's lines, the header being line 1.
"""

import csv

from django.db import IntegrityError, transaction
from django.utils import timezone

from picky.wording import counted

from .criteria import fields_by_key
from .models import Module, Record
from .queries import insert_entries, insert_records, write_data
from .services import (
    add_record,
    change_entry_values,
    clean_values,
    entry_row,
    missing_required,
    record_as_dict,
    records_matching,
    send_changes,
    upsert_record,
)
from .storage import clean_row_name, upsert_row
from .values import FIELD_TYPES, RecordError

IMPORT_BATCH = 2000
FIRST_ROW = 2  # the header is line 1
# The mapping's target for a data-storage row's name (Record.name): a key no field may
# have (models.RESERVED_KEYS).
ROW_NAME = "name"


class ImportInterrupted(RecordError):
    """An import that stopped before its end; `report` says what went in."""

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


def import_records(module, rows, mapping, *, upsert_on=None, author=None, trigger_workflows=False):
    """Import `rows` (dicts of CSV column: text) into `module`, `mapping` naming the
    field each column goes to ({column: field key}; columns mapped to nothing are
    skipped; ROW_NAME for a data-storage row's name). With `upsert_on` (a unique field's
    key, or ROW_NAME) a row whose value is already a record's updates it. Returns
    {"created", "updated", "refused": [(row, reason)], "rows"}."""
    report = {"created": 0, "updated": 0, "refused": []}

    def add_up(last_row, batch):
        for key in ("created", "updated", "refused"):
            report[key] += batch[key]

    try:
        last = import_batches(
            module,
            rows,
            mapping,
            upsert_on=upsert_on,
            author=author,
            trigger_workflows=trigger_workflows,
            on_batch=add_up,
        )
    except ImportInterrupted as exc:
        report["refused"].sort()
        exc.report = report
        raise
    report["rows"] = last - FIRST_ROW + 1
    report["refused"].sort()
    return report


def check_mapping(module, mapping, upsert_on, fields=None):
    """RecordError unless `mapping` ({column: field key}) names fields of `module` (and
    a data-storage table's row name), and `upsert_on` a unique field, or a storage
    table's row name, that a column goes into."""
    fields = fields if fields is not None else fields_by_key(module)
    storage = module.kind == Module.Kind.STORAGE
    targets = {*fields, *([ROW_NAME] if storage else [])}
    unknown = sorted({key for key in mapping.values() if key not in targets})
    if unknown:
        raise RecordError(f"{module} has no field {', '.join(unknown)}.", field="mapping")
    if storage and ROW_NAME not in mapping.values():
        raise RecordError(
            f"Choose the column that goes into Row name: the rows of {module} are read by "
            "their name (storage.<table>.<row>), so a row without one could never be read."
        )
    if upsert_on is None:
        return
    if not (storage and upsert_on == ROW_NAME):
        field = fields.get(upsert_on)
        if field is None or not field.unique:
            raise RecordError(f"“{upsert_on}” is not a unique field of {module}.", field=upsert_on)
    if upsert_on not in mapping.values():
        label = "the row name" if upsert_on == ROW_NAME else fields[upsert_on].label
        raise RecordError(f"Map a column to {label} to match records on it.")


def import_batches(
    module,
    rows,
    mapping,
    *,
    upsert_on=None,
    author=None,
    trigger_workflows=False,
    first_row=FIRST_ROW,
    on_batch=None,
):
    """Import `rows` (as import_records does; the first being line `first_row` of the
    file) a batch of IMPORT_BATCH at a time. After each batch's writes, in the same
    transaction, `on_batch(last_row, batch_report)` is called with the batch's own
    {"created", "updated", "refused"}: what it saves commits with the batch, or neither
    does. Returns the last row's line; ImportInterrupted says which rows went in when
    anything but a row's values stopped the import."""
    fields = fields_by_key(module)
    mapping = {column: key for column, key in (mapping or {}).items() if key}
    check_mapping(module, mapping, upsert_on, fields)
    batch, number, done = [], first_row - 1, first_row - 1
    try:
        for number, row in enumerate(rows, start=first_row):
            batch.append((number, row))
            if len(batch) == IMPORT_BATCH:
                _import_batch(module, fields, batch, mapping, upsert_on, author,
                              trigger_workflows, on_batch)  # fmt: skip
                batch, done = [], number
        if batch:
            _import_batch(module, fields, batch, mapping, upsert_on, author,
                          trigger_workflows, on_batch)  # fmt: skip
    except Exception as exc:
        raise ImportInterrupted(interrupted_message(done, exc), report=None) from exc
    return number


def interrupted_message(done, exc):
    """What an import that stopped after line `done` tells its user."""
    went_in = (
        f"{counted(done - FIRST_ROW + 1, 'row')} before it went in as the report says"
        if done >= FIRST_ROW
        else "no row went in"
    )
    return (
        f"The import stopped at row {done + 1} ({stop_reason(exc)}). {went_in}; "
        f"rows from {done + 1} on were not imported."
    )


def stop_reason(exc):
    """Why an import stopped, in the words of who imports."""
    if isinstance(exc, UnicodeDecodeError):
        return "part of it is not UTF-8 text: save it from the spreadsheet as “CSV UTF-8”"
    if isinstance(exc, csv.Error):
        return f"the file is not CSV a spreadsheet reads: {exc}"
    if isinstance(exc, OSError):
        return f"the file could not be read: {exc.strerror or exc}"
    return str(exc) or type(exc).__name__


def _import_batch(module, fields, batch, mapping, upsert_on, author, trigger_workflows, on_batch):
    report = {"created": 0, "updated": 0, "refused": []}
    cleaned = _clean_rows(module, fields, batch, mapping, report)
    with transaction.atomic():
        try:
            with transaction.atomic():
                created, updated = _write(
                    module, fields, cleaned, upsert_on, author, trigger_workflows, report
                )
        except IntegrityError:
            created, updated = _write_one_by_one(
                module, cleaned, upsert_on, author, trigger_workflows, report
            )
        report["created"], report["updated"] = created, updated
        if on_batch is not None:
            on_batch(batch[-1][0], report)


def _clean_rows(module, fields, batch, mapping, report):
    """[(row number, values)] of the rows whose values are right; the others refused. A
    row's name, if mapped, is under ROW_NAME, as row_create takes it."""
    cleaned = []
    for number, row in batch:
        values = {key: row.get(column) for column, key in mapping.items()}
        try:
            name = _row_name(values.pop(ROW_NAME)) if ROW_NAME in values else None
            values = clean_values(module, values, partial=True, fields=fields)
        except RecordError as exc:
            report["refused"].append((number, exc.message))
            continue
        if name is not None:
            values[ROW_NAME] = name
        cleaned.append((number, values))
    return cleaned


def _row_name(text):
    if not str(text or "").strip():
        raise RecordError("Row name: a value is required (a row is read by its name).")
    return clean_row_name(text)


def _write(module, fields, cleaned, upsert_on, author, trigger_workflows, report):
    """Write a batch in bulk; IntegrityError when the database refuses any of it."""
    existing = {}
    if upsert_on == ROW_NAME:
        names = [values[ROW_NAME] for _, values in cleaned]
        matching = module.records.filter(name__in=names).select_for_update(of=("self",))
        existing = {record.name: record for record in matching}
    elif upsert_on is not None:
        wanted = [values[upsert_on] for _, values in cleaned if values.get(upsert_on) is not None]
        if wanted:
            match = [[{"field": upsert_on, "op": "in_list", "value": wanted}]]
            matching = records_matching(module, match).select_for_update(of=("self",))
            existing = {_key(fields, upsert_on, r.data.get(upsert_on)): r for r in matching}
    now = timezone.now()
    new, changed, entries, befores = {}, {}, [], {}
    for number, values in cleaned:
        values = dict(values)
        name = values.pop(ROW_NAME, "")
        key = _key(fields, upsert_on, name if upsert_on == ROW_NAME else values.get(upsert_on))
        target = existing.get(key) if key is not None else None
        if target is None and key is not None and key in new:
            new[key][1].update(values)
            continue
        if target is None:
            new[key if key is not None else ("row", number)] = (number, dict(values), name)
            continue
        data = dict(target.data)
        for k, v in values.items():
            if v is None:
                data.pop(k, None)
            else:
                data[k] = v
        if data != target.data:
            if trigger_workflows and target.pk not in befores:
                befores[target.pk] = record_as_dict(target)
            entries.append(entry_row(target.pk, target.data, data, author, fields, "Imported"))
            changed[target.pk] = target
            target.data, target.updated_at = data, now
    rows, refused = [], []
    for number, values, name in new.values():
        data = {k: v for k, v in values.items() if v is not None}
        missing = missing_required(module, data, fields)
        if missing:
            refused.append((number, f"A value is required for {', '.join(missing)}."))
        else:
            rows.append(
                {
                    "project_id": module.project_id,
                    "module_id": module.pk,
                    "data": data,
                    "name": name,
                }
            )
    # Rows as values, not model instances: on PostgreSQL one JSON document per batch.
    ids = insert_records(rows)
    if changed:
        write_data(list(changed.values()), now)
    author_id = author.pk if author else None
    created_entry = change_entry_values({}, {}, fields, "Imported")
    insert_entries(
        [{"record_id": pk, "author_id": author_id, **created_entry} for pk in ids] + entries
    )
    if trigger_workflows:
        made = Record.objects.filter(pk__in=ids).select_related("module", "owner")
        send_changes(
            module,
            [(record_as_dict(record), None, "created") for record in made]
            + [(record_as_dict(r), befores[r.pk], "updated") for r in changed.values()],
        )
    report["refused"].extend(refused)
    return len(ids), len(changed)


def _key(fields, upsert_on, value):
    """The upsert value as the database compares it: a row's name exactly, a unique
    field's text whatever its case; None without an upsert or a value."""
    if upsert_on is None or value is None:
        return None
    text = upsert_on != ROW_NAME and isinstance(value, str)
    return value.lower() if text and not FIELD_TYPES[fields[upsert_on].type].exact else value


def _write_one_by_one(module, cleaned, upsert_on, author, trigger_workflows, report):
    created = updated = 0
    for number, values in cleaned:
        values = dict(values)
        name = values.pop(ROW_NAME, "")
        try:
            if upsert_on == ROW_NAME:
                was_created = upsert_row(module, name, values, author=author, entry_text="Imported")
            elif upsert_on is not None and values.get(upsert_on) is not None:
                _, was_created = upsert_record(
                    module,
                    upsert_on,
                    values,
                    author=author,
                    trigger_workflows=trigger_workflows,
                    allow_partial=False,
                )
            else:
                add_record(
                    module,
                    values,
                    name=name,
                    author=author,
                    trigger_workflows=trigger_workflows,
                    allow_partial=False,
                )
                was_created = True
            created, updated = created + was_created, updated + (not was_created)
        except RecordError as exc:
            report["refused"].append((number, exc.message))
    return created, updated


def export_records(module, criteria=None, sort=None, descending=False):
    """The module's records meeting `criteria` as CSV rows: a header of field keys and
    record attributes, then one row per record (lists joined with ", ")."""
    fields = list(fields_by_key(module).values())
    yield [
        "id",
        *(field.key for field in fields),
        "owner",
        "contact_id",
        "created_at",
        "updated_at",
    ]
    queryset = records_matching(module, criteria, sort=sort, descending=descending)
    for record in queryset.iterator(chunk_size=2000):
        yield [
            record.pk,
            *(_cell(record.data.get(field.key)) for field in fields),
            record.owner.get_username() if record.owner else "",
            record.contact_id or "",
            record.created_at.isoformat(),
            record.updated_at.isoformat(),
        ]


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
