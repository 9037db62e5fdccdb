"""CSV import and export of a module's records.

`import_records` writes in batches (bulk inserts and updates, one transaction each), so
100,000 rows go in within a minute on PostgreSQL. A row whose values are wrong is
refused with its reason and the others go in; a batch the database refuses as a whole
(a duplicate written meanwhile by someone else) is retried row by row. If the import
stops for any other reason, ImportInterrupted says which rows went in (every batch
before the failing one) and carries the report so far. Imports start no record
workflows unless asked: a file of 100,000 rows is not 100,000 "record created" events.

Row numbers in reports are the file's lines, the header being line 1.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from picky.wording import counted

from .criteria import fields_by_key
from .models import Record
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
from .values import FIELD_TYPES, RecordError

IMPORT_BATCH = 2000
FIRST_ROW = 2  # the header is line 1


class ImportInterrupted(RecordError):
    """An import that stopped before its end; `report` says what went in."""

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


def import_records(module, rows, mapping, *, upsert_on=None, author=None, trigger_workflows=False):
    """Import `rows` (dicts of CSV column: text) into `module`, `mapping` naming the
    field each column goes to ({column: field key}; columns mapped to nothing are
    skipped). With `upsert_on` (a unique field's key) a row whose value is already a
    record's updates it. Returns {"created", "updated", "refused": [(row, reason)]}."""
    fields = fields_by_key(module)
    mapping = {column: key for column, key in (mapping or {}).items() if key}
    unknown = sorted({key for key in mapping.values() if key not in fields})
    if unknown:
        raise RecordError(f"{module} has no field {', '.join(unknown)}.", field="mapping")
    if upsert_on is not None:
        field = fields.get(upsert_on)
        if field is None or not field.unique:
            raise RecordError(f"“{upsert_on}” is not a unique field of {module}.", field=upsert_on)
        if upsert_on not in mapping.values():
            raise RecordError(f"Map a column to {field.label} to match records on it.")
    report = {"created": 0, "updated": 0, "refused": []}
    batch, number, done = [], FIRST_ROW - 1, FIRST_ROW - 1
    try:
        for number, row in enumerate(rows, start=FIRST_ROW):
            batch.append((number, row))
            if len(batch) == IMPORT_BATCH:
                _import_batch(
                    module, fields, batch, mapping, upsert_on, author, trigger_workflows, report
                )
                batch, done = [], number
        if batch:
            _import_batch(
                module, fields, batch, mapping, upsert_on, author, trigger_workflows, report
            )
    except Exception as exc:
        report["refused"].sort()
        raise ImportInterrupted(
            f"The import stopped at row {done + 1} ({exc}). "
            f"{counted(done - FIRST_ROW + 1, 'row')} before it went in as the report says; "
            f"rows from {done + 1} on were not imported.",
            report,
        ) from exc
    report["rows"] = number - FIRST_ROW + 1
    report["refused"].sort()
    return report


def _import_batch(module, fields, batch, mapping, upsert_on, author, trigger_workflows, report):
    cleaned = _clean_rows(module, fields, batch, mapping, report)
    try:
        with transaction.atomic():
            created, updated = _write(
                module, fields, cleaned, upsert_on, author, trigger_workflows, report
            )
    except IntegrityError:
        created, updated = _write_one_by_one(
            module, cleaned, upsert_on, author, trigger_workflows, report
        )
    report["created"] += created
    report["updated"] += updated


def _clean_rows(module, fields, batch, mapping, report):
    """[(row number, values)] of the rows whose values are right; the others refused."""
    cleaned = []
    for number, row in batch:
        values = {key: row.get(column) for column, key in mapping.items()}
        try:
            cleaned.append((number, clean_values(module, values, partial=True, fields=fields)))
        except RecordError as exc:
            report["refused"].append((number, exc.message))
    return cleaned


def _write(module, fields, cleaned, upsert_on, author, trigger_workflows, report):
    """Write a batch in bulk; IntegrityError when the database refuses any of it."""
    existing = {}
    if upsert_on is not None:
        wanted = [values[upsert_on] for _, values in cleaned if values.get(upsert_on) is not None]
        if wanted:
            match = [[{"field": upsert_on, "op": "in_list", "value": wanted}]]
            matching = records_matching(module, match).select_for_update(of=("self",))
            existing = {_key(fields[upsert_on], r.data.get(upsert_on)): r for r in matching}
    now = timezone.now()
    new, changed, entries, befores = {}, {}, [], {}
    for number, values in cleaned:
        key = _key(fields[upsert_on], values.get(upsert_on)) if upsert_on else None
        target = existing.get(key) if key is not None else None
        if target is None and key is not None and key in new:
            new[key][1].update(values)
            continue
        if target is None:
            new[key if key is not None else ("row", number)] = (number, dict(values))
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
    for number, values in new.values():
        data = {k: v for k, v in values.items() if v is not None}
        missing = missing_required(module, data, fields)
        if missing:
            refused.append((number, f"A value is required for {', '.join(missing)}."))
        else:
            rows.append(
                {"project_id": module.project_id, "module_id": module.pk, "data": data, "name": ""}
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


def _key(field, value):
    """A unique field's value as its index compares it (text whatever its case)."""
    if isinstance(value, str) and not FIELD_TYPES[field.type].exact:
        return value.lower()
    return value


def _write_one_by_one(module, cleaned, upsert_on, author, trigger_workflows, report):
    created = updated = 0
    for number, values in cleaned:
        try:
            if upsert_on is not None and values.get(upsert_on) is not None:
                _, was_created = upsert_record(
                    module,
                    upsert_on,
                    values,
                    author=author,
                    trigger_workflows=trigger_workflows,
                    allow_partial=False,
                )
                created, updated = created + was_created, updated + (not was_created)
            else:
                add_record(
                    module,
                    values,
                    author=author,
                    trigger_workflows=trigger_workflows,
                    allow_partial=False,
                )
                created += 1
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
