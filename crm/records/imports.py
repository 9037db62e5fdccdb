"""CSV imports a worker runs, so a file of any size imports while its page shows the
progress.

The page keeps the file and the chosen mapping (`start_import`) and queues
crm.tasks.run_record_import, which calls `run_import`: a worker claims the import for a
lease, counts the file's rows, then imports them a batch at a time (transfer.py
`import_batches`). Each batch commits with the import's progress (rows done, counts, the
refused rows), so a worker killed mid-import loses nothing: the next worker resumes after
the last committed batch, and a batch never goes in twice. A worker whose lease ran out
while another took over writes nothing more (`attempt`). The beat sweep
(`sweep_stuck_imports`) hands out imports whose message was lost or whose worker died.
"""

import codecs
import csv
import itertools
from contextlib import suppress
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from picky.dispatch import enqueue

from .models import RecordImport
from .transfer import (
    FIRST_ROW,
    ImportInterrupted,
    import_batches,
    interrupted_message,
    stop_reason,
)

MAX_IMPORT_BYTES = 200 * 1024 * 1024
MAX_IMPORT_ROWS = 1_000_000
# Refused rows listed with their line and reason; past these only counted (a file whose
# every row is wrong says so in its first rows).
REFUSED_LISTED = 1000
# A running import not heard of for this long (a batch renews it) is taken by another worker.
LEASE = timedelta(minutes=2)
TASK = "crm.tasks.run_record_import"


class TurnPassed(Exception):
    """Another worker took the import over: this one writes nothing more."""


def csv_lines(file):
    """A file's lines as text, decoded as they are read (a BOM dropped): never the
    whole file in memory."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    for chunk in file.chunks():
        pending += decoder.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def start_import(module, upload, header, mapping, upsert_on, author):
    """Keep `upload` and the mapping ({column index: target}) as a queued import of
    `module`, handed to a worker once the caller's transaction commits."""
    record_import = RecordImport(
        project_id=module.project_id,
        module=module,
        file_name=upload.name[:255],
        header=header,
        mapping={str(index): key for index, key in mapping.items()},
        upsert_on=upsert_on or "",
        author=author,
    )
    record_import.file.save(upload.name, upload, save=False)
    record_import.save()
    transaction.on_commit(lambda: enqueue(TASK, record_import.pk))
    return record_import


def continue_import(record_import):
    """Queue a stopped import again: it resumes after its last batch that went in."""
    RecordImport.objects.filter(pk=record_import.pk, status=RecordImport.Status.FAILED).update(
        status=RecordImport.Status.QUEUED, error="", finished_at=None
    )
    transaction.on_commit(lambda: enqueue(TASK, record_import.pk))


def run_import(import_id):
    """Import what is left of import `import_id`, unless another worker holds it."""
    record_import = claim_import(import_id)
    if record_import is None:
        return
    try:
        _import(record_import)
    except TurnPassed:
        return
    except ImportInterrupted as exc:
        if not isinstance(exc.__cause__, TurnPassed):
            _stop(record_import, exc.message)
    except Exception as exc:  # the file unreadable, the database gone: said, never lost
        done = FIRST_ROW - 1 + _rows_done(record_import)
        _stop(record_import, interrupted_message(done, exc))
    else:
        _save(record_import, status=RecordImport.Status.DONE, finished_at=timezone.now(),
              lease_until=None)  # fmt: skip


def claim_import(import_id):
    """The import, taken by this worker for a lease when it is queued or its lease ran
    out; None when it is finished or another worker holds it."""
    now = timezone.now()
    waiting = Q(status=RecordImport.Status.QUEUED) | Q(
        status=RecordImport.Status.RUNNING, lease_until__lt=now
    )
    with transaction.atomic():
        record_import = (
            RecordImport.objects.filter(waiting, pk=import_id)
            .select_related("module__project", "author")
            .select_for_update(of=("self",))
            .first()
        )
        if record_import is None:
            return None
        record_import.status = RecordImport.Status.RUNNING
        record_import.attempt += 1
        record_import.lease_until = now + LEASE
        record_import.started_at = record_import.started_at or now
        record_import.save(update_fields=["status", "attempt", "lease_until", "started_at"])
    return record_import


def sweep_stuck_imports():
    """Hand out again the imports no worker holds: queued for longer than a lease (the
    message was lost) or running past their lease (the worker died)."""
    now = timezone.now()
    stuck = RecordImport.objects.filter(
        Q(status=RecordImport.Status.QUEUED, created_at__lt=now - LEASE)
        | Q(status=RecordImport.Status.RUNNING, lease_until__lt=now)
    )
    for import_id in stuck.values_list("pk", flat=True):
        enqueue(TASK, import_id)


def _import(record_import):
    with record_import.file.open("rb") as file:
        if record_import.total_rows is None:
            total = _count_rows(file)
            if total > MAX_IMPORT_ROWS:
                raise ImportInterrupted(
                    f"The file has {total:,} rows; Picky imports up to {MAX_IMPORT_ROWS:,} "
                    "rows a file. Split it into smaller files; nothing was imported.",
                    report=None,
                )
            _save(record_import, total_rows=max(total, 0))
            file.seek(0)
        rows = csv.reader(csv_lines(file))
        next(rows, None)  # the header
        rest = itertools.islice(rows, record_import.rows_done, None)
        import_batches(
            record_import.module,
            (dict(enumerate(row)) for row in rest),
            {int(index): key for index, key in record_import.mapping.items()},
            upsert_on=record_import.upsert_on or None,
            author=record_import.author,
            first_row=FIRST_ROW + record_import.rows_done,
            on_batch=lambda last_row, batch: _save_batch(record_import, last_row, batch),
        )


def _count_rows(file):
    """The rows under the header; ImportInterrupted when the file cannot be read to its
    end (nothing is imported from a file that is not CSV all through)."""
    try:
        return sum(1 for _ in csv.reader(csv_lines(file))) - 1
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ImportInterrupted(
            f"Picky could not read the whole file: {stop_reason(exc)}. Nothing was imported; "
            "fix the file and import it again.",
            report=None,
        ) from exc


def _save_batch(record_import, last_row, batch):
    """The import's progress after a batch, in the batch's transaction."""
    room = max(REFUSED_LISTED - len(record_import.refused), 0)
    refused = record_import.refused + [list(row) for row in sorted(batch["refused"])[:room]]
    _save(
        record_import,
        rows_done=last_row - FIRST_ROW + 1,
        created=record_import.created + batch["created"],
        updated=record_import.updated + batch["updated"],
        refused_count=record_import.refused_count + len(batch["refused"]),
        refused=refused,
        lease_until=timezone.now() + LEASE,
    )


def _save(record_import, **values):
    """Write `values` while this worker still holds the import (TurnPassed otherwise)."""
    mine = RecordImport.objects.filter(
        pk=record_import.pk, attempt=record_import.attempt, status=RecordImport.Status.RUNNING
    )
    if not mine.update(**values):
        raise TurnPassed
    for name, value in values.items():
        setattr(record_import, name, value)


def _stop(record_import, message):
    """Mark the import stopped with `message`, if this worker still holds it."""
    with suppress(TurnPassed):
        _save(record_import, status=RecordImport.Status.FAILED, error=message,
              finished_at=timezone.now(), lease_until=None)  # fmt: skip


def _rows_done(record_import):
    """Rows committed so far, as the database has them (a batch that failed to commit
    is not among them)."""
    saved = RecordImport.objects.filter(pk=record_import.pk).values_list("rows_done", flat=True)
    return saved.first() or 0
