"""Writing and finding records: the services action types, admin pages and the teambox
call. Values are cleaned by field type (crm/records/values.py), searches compiled by
crm/records/criteria.py; each write leaves a line on the record's timeline (what
changed: field, before, after) and, unless told not to, sends crm.signals.record_changed
once it commits, which is what starts the module's record workflows."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from picky.names import name_is
from picky.wording import listed

from ..signals import record_changed
from .criteria import (
    compile_criteria,
    fields_by_key,
    order_records,
    sort_signature,
)
from .models import Module, Record, RecordEntry
from .queries import insert_entries, select_records, write_data
from .values import DuplicateError, RecordError, clean_value, is_empty, shown

# At most this many records are deleted in the call that asks; a worker task deletes
# the rest, as many at a time (crm/tasks.py).
DELETE_BATCH = 2000
# The `owner` of an update that leaves the records' owners as they are.
KEEP_OWNER = object()


# Modules ---------------------------------------------------------------------------


def find_module(project, name, kind=Module.Kind.MODULE):
    """The project's module (or data-storage table, kind "storage") named `name`,
    whatever its case, or None."""
    return Module.objects.filter(
        name_is(str(name or "").strip()), project=project, kind=kind
    ).first()


def unknown_module_message(project, name, kind=Module.Kind.MODULE):
    storage = kind == Module.Kind.STORAGE
    names = Module.objects.filter(project=project, kind=kind).order_by("name")
    return f"There is no {'data storage table' if storage else 'module'} “{name}”. " + listed(
        names.values_list("name", flat=True),
        "data storage tables" if storage else "modules",
        "add one under CRM › Modules",
    )


# Values ----------------------------------------------------------------------------


def clean_values(module, values, *, partial, fields=None):
    """`values` ({field key: value}) normalised by field type: {key: value}, None for a
    value emptied. Without `partial`, every required field must have a value. Raises
    RecordError naming each field that is unknown, missing or wrong (`errors`)."""
    if not isinstance(values, dict):
        raise RecordError("Give the values as field: value pairs.")
    fields = fields if fields is not None else fields_by_key(module)
    cleaned, errors = {}, {}
    for key, value in values.items():
        field = fields.get(key)
        if field is None:
            errors[key] = f"{module} has no field “{key}”."
            continue
        try:
            cleaned[key] = clean_value(field, value, module.project)
        except RecordError as exc:
            errors[key] = exc.message
    if not partial:
        for key, field in fields.items():
            if field.required and cleaned.get(key) is None and key not in errors:
                errors[key] = f"{field.label}: a value is required."
    if errors:
        raise RecordError(" ".join(errors.values()), field=next(iter(errors)), errors=errors)
    return cleaned


def missing_required(module, data, fields=None):
    """Labels of the required fields `data` has no value for."""
    fields = fields if fields is not None else fields_by_key(module)
    return [f.label for key, f in fields.items() if f.required and is_empty(data.get(key))]


# Reading ---------------------------------------------------------------------------


def record_as_dict(record):
    """What templates and signals see of a record: its attributes and its values."""
    owner = record.owner
    return {
        **record.data,
        "id": record.pk,
        "module": record.module.name,
        "name": record.name,
        "owner": owner.get_username() if owner else "",
        "contact_id": record.contact_id,
        "created_at": record.created_at.isoformat() if record.created_at else "",
        "updated_at": record.updated_at.isoformat() if record.updated_at else "",
    }


def find_record(module, record_id):
    """The module's record with this id, or RecordError saying there is none."""
    text = str(record_id or "").strip()
    record = (
        Record.objects.filter(module=module, pk=int(text)).select_related("module", "owner").first()
        if text.isdigit()
        else None
    )
    if record is None:
        raise RecordError(f"{module} has no record {text or '(no id given)'}.", field="id")
    return record


def records_matching(module, criteria=None, *, sort=None, descending=False):
    """A queryset of the module's records meeting `criteria`, sorted; for pages that
    paginate and exports that stream."""
    fields = fields_by_key(module)
    compiled = compile_criteria(module, criteria, module.project, fields)
    return _sorted(module, compiled, sort, descending, fields)


def search_records(module, criteria, *, limit=None, sort=None, descending=False):
    """A list of the module's records meeting `criteria`, sorted, at most `limit`; each
    search of a shape already seen reuses its statement (queries.select_records)."""
    fields = fields_by_key(module)
    compiled = compile_criteria(module, criteria, module.project, fields, slots=True)
    shape = (tuple(compiled.shape), sort_signature(module, sort, fields), descending, limit)

    def build():
        queryset = _sorted(module, compiled, sort, descending, fields)
        return queryset[:limit] if limit else queryset

    return select_records(shape, compiled.values, module, build)


def _sorted(module, compiled, sort, descending, fields):
    # Through the module's related manager each record's `module` is this instance,
    # with no join.
    queryset = compiled.apply(module.records.all())
    return order_records(queryset, module, sort, descending, fields).select_related("owner")


# Writing ---------------------------------------------------------------------------


def add_record(
    module,
    values,
    *,
    owner=None,
    contact=None,
    author=None,
    name="",
    trigger_workflows=True,
    allow_partial=True,
):
    """A new record of `module` with `values`; with allow_partial=False a required field
    without a value refuses it (RecordError naming the fields)."""
    cleaned = clean_values(module, values, partial=allow_partial)
    data = {key: value for key, value in cleaned.items() if value is not None}
    record = Record(
        project_id=module.project_id,
        module=module,
        data=data,
        name=name,
        owner=owner,
        contact=contact,
    )
    try:
        with transaction.atomic():
            record.save()
            RecordEntry.objects.create(
                **entry_row(record.pk, {}, data, author, fields_by_key(module), "Created")
            )
    except IntegrityError:
        raise _conflict(module, [record]) from None
    if trigger_workflows:
        send_changes(module, [(record_as_dict(record), None, "created")])
    return record


def update_record(
    record, values, *, owner=KEEP_OWNER, author=None, trigger_workflows=True, entry_text=""
):
    """Set `values` on one record (None or "" empties a field) and, unless KEEP_OWNER, give
    it to `owner` (a user, or None: nobody); whether anything changed."""
    cleaned = clean_values(record.module, values, partial=True)
    return bool(
        _update(record.module, [record], cleaned, author, trigger_workflows, entry_text, owner)
    )


def update_records(
    module,
    criteria,
    values,
    *,
    limit=None,
    sort=None,
    descending=False,
    owner=KEEP_OWNER,
    author=None,
    trigger_workflows=True,
):
    """Set `values` on the records meeting `criteria` (the first `limit` in `sort` order)
    and, unless KEEP_OWNER, give them to `owner` (a user, or None); how many changed."""
    cleaned = clean_values(module, values, partial=True)
    with transaction.atomic():
        queryset = records_matching(module, criteria, sort=sort, descending=descending)
        queryset = queryset.select_for_update(of=("self",))
        records = list(queryset[:limit] if limit else queryset)
        return _update(module, records, cleaned, author, trigger_workflows, owner=owner)


def upsert_record(
    module,
    key,
    values,
    *,
    owner=None,
    contact=None,
    author=None,
    trigger_workflows=True,
    allow_partial=True,
):
    """Update the record whose unique field `key` has the value `values[key]`, or add
    one: (record, created). Parallel calls with one value make one record: the unique
    index refuses the second insert, which then updates the first's record."""
    fields = fields_by_key(module)
    field = fields.get(key)
    if field is None or not field.unique:
        raise RecordError(f"“{key}” is not a unique field of {module}.", field=key)
    value = clean_values(module, {key: values.get(key)}, partial=True, fields=fields)[key]
    if value is None:
        raise RecordError(f"{field.label}: give the value to match records on.", field=key)
    same = [[{"field": key, "op": "equals", "value": value}]]
    for _attempt in range(2):
        with transaction.atomic():
            existing = records_matching(module, same).select_for_update(of=("self",)).first()
            if existing is not None:
                cleaned = clean_values(module, values, partial=True, fields=fields)
                _update(module, [existing], cleaned, author, trigger_workflows)
                return existing, False
        try:
            with transaction.atomic():
                record = add_record(
                    module,
                    values,
                    owner=owner,
                    contact=contact,
                    author=author,
                    trigger_workflows=trigger_workflows,
                    allow_partial=allow_partial,
                )
            return record, True
        except DuplicateError as exc:
            if exc.field != key:
                raise
    raise RecordError(f"{field.label}: {value} is being written by another change; try again.")


def delete_records(
    module, criteria, *, limit=None, sort=None, descending=False, trigger_workflows=True
):
    """Delete the records meeting `criteria` (the first `limit` in `sort` order): at most
    DELETE_BATCH now, the rest by a worker task. (deleted now, queued)."""
    queryset = records_matching(module, criteria, sort=sort, descending=descending)
    total = queryset.count()
    if limit:
        total = min(total, limit)
    deleted = delete_batch(
        module, criteria, sort, descending, min(total, DELETE_BATCH), trigger_workflows
    )
    queued = total - deleted
    if queued > 0:
        # crm.tasks imports this module (its task calls continue_deletion).
        from ..tasks import finish_record_deletion

        transaction.on_commit(
            lambda: finish_record_deletion.delay(
                module.pk, criteria, sort, descending, queued, trigger_workflows
            )
        )
    return deleted, queued


def continue_deletion(module_id, criteria, sort, descending, remaining, trigger_workflows):
    """Delete the next batch of a queued deletion; how many are still to go (0 when no
    record meets the criteria any more or the module is gone)."""
    module = Module.objects.select_related("project").filter(pk=module_id).first()
    if module is None:
        return 0
    count = min(remaining, DELETE_BATCH)
    deleted = delete_batch(module, criteria, sort, descending, count, trigger_workflows)
    return remaining - deleted if deleted == count else 0


def delete_batch(module, criteria, sort, descending, count, trigger_workflows):
    """Delete up to `count` of the records meeting `criteria`, first in `sort` order;
    how many went."""
    if count <= 0:
        return 0
    with transaction.atomic():
        queryset = records_matching(module, criteria, sort=sort, descending=descending)
        records = list(queryset.select_for_update(of=("self",))[:count])
        if not records:
            return 0
        gone = [record_as_dict(record) for record in records] if trigger_workflows else []
        Record.objects.filter(pk__in=[record.pk for record in records]).delete()
        send_changes(module, [(before, None, "deleted") for before in gone])
    return len(records)


def add_record_note(record, text, author=None):
    text = str(text or "").strip()
    if not text:
        raise RecordError("The note is empty.", field="text")
    return RecordEntry.objects.create(
        record=record, kind=RecordEntry.Kind.NOTE, text=text, author=author
    )


def timeline_of(record, limit=100):
    return list(record.entries.select_related("author")[:limit])


# Internals -------------------------------------------------------------------------


def _update(module, records, cleaned, author, trigger_workflows, entry_text="", owner=KEEP_OWNER):
    now = timezone.now()
    fields = fields_by_key(module)
    owner_id = None if owner is KEEP_OWNER or owner is None else owner.pk
    changed, entries, befores, handed = [], [], [], []
    for record in records:
        data = dict(record.data)
        for key, value in cleaned.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        hands_over = owner is not KEEP_OWNER and record.owner_id != owner_id
        if data == record.data and not hands_over:
            continue
        befores.append(record_as_dict(record) if trigger_workflows else None)
        handover = (username(record.owner), username(owner)) if hands_over else None
        entries.append(
            entry_row(record.pk, record.data, data, author, fields, entry_text, owner=handover)
        )
        record.data, record.updated_at = data, now
        if hands_over:
            record.owner = owner
            handed.append(record.pk)
        changed.append(record)
    if not changed:
        return 0
    try:
        with transaction.atomic():
            write_data(changed, now)
            if handed:
                Record.objects.filter(pk__in=handed).update(owner=owner)
            insert_entries(entries)
    except IntegrityError:
        raise _conflict(module, changed) from None
    if trigger_workflows:
        send_changes(
            module,
            [
                (record_as_dict(record), before, "updated")
                for record, before in zip(changed, befores, strict=True)
            ],
        )
    return len(changed)


def entry_row(record_id, before, after, author, fields, text="", owner=None):
    """The timeline line of a change, as values for picky.rows.insert_values: each
    field's before and after, and the owner's (`owner`: (before, after) usernames) when it
    changed; a new record's line says only how it came (its values are the record's)."""
    return {
        "record_id": record_id,
        "author_id": author.pk if author else None,
        **change_entry_values(before, after, fields, text, owner),
    }


def change_entry_values(before, after, fields, text="", owner=None):
    if not before and owner is None:
        return {"kind": RecordEntry.Kind.CHANGE, "text": text or "Created", "data": {}}
    keys = [*fields, *(key for key in {**before, **after} if key not in fields)]
    changes = [
        {"field": key, "before": before.get(key), "after": after.get(key)}
        for key in keys
        if before.get(key) != after.get(key)
    ]
    if owner is not None:
        # "owner" is no field's key (models.RESERVED_KEYS).
        changes.append({"field": "owner", "before": owner[0] or None, "after": owner[1] or None})
    summary = "; ".join(
        f"{change_label(c['field'], fields)}: {shown(c['before'])} → {shown(c['after'])}"
        for c in changes
    )
    return {
        "kind": RecordEntry.Kind.CHANGE,
        "text": f"{text}: {summary}" if text and summary else text or summary,
        "data": {"changes": changes},
    }


def change_label(key, fields):
    """How a timeline line names what changed: a field by its label, the owner as such, and
    a key no field has any more as it is."""
    if key in fields:
        return fields[key].label
    return "Owner" if key == "owner" else key


def username(user):
    return user.get_username() if user else ""


def _conflict(module, records):
    """The RecordError for a write the database refused as a duplicate: which unique
    field and value, or which row name, another record already has."""
    fields = fields_by_key(module)
    ids = [record.pk for record in records if record.pk]
    for record in records:
        if (
            record.name
            and Record.objects.filter(module=module, name=record.name).exclude(pk__in=ids).exists()
        ):
            return DuplicateError(
                f"{module} already has a row named “{record.name}”.", field="name"
            )
        for key, field in fields.items():
            value = record.data.get(key)
            if not field.unique or value is None:
                continue
            same = [[{"field": key, "op": "equals", "value": value}]]
            others = records_matching(module, same).exclude(pk__in=ids)
            twins = [r for r in records if r is not record and r.data.get(key) == value]
            if others.exists() or twins:
                return DuplicateError(
                    f"{field.label}: another record of {module} already has {value}.", field=key
                )
    return RecordError(f"{module}: the change conflicts with another record; try again.")


def send_changes(module, changes):
    """Send record_changed for each (record dict, before dict or None, change) once the
    transaction commits (one callback for them all: a batch may change thousands)."""
    if not changes:
        return

    def send():
        for after, before, change in changes:
            record_changed.send(
                sender=Module, module=module, record=after, before=before, change=change
            )

    transaction.on_commit(send)
