"""CSV imports a worker runs (crm/records/imports.py, crm.tasks.run_record_import): the
file kept, the progress saved with each batch, an import resumed after its last batch
when its worker died (each row in once), a stop said with the rows that went in."""

from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.utils import timezone

from crm.models import Field, Module, Record, RecordImport
from crm.records import imports, transfer
from crm.records.storage import create_row
from crm.tasks import run_record_import, sweep_stuck_imports

pytestmark = pytest.mark.django_db


@pytest.fixture
def patients(project):
    module = Module.objects.create(project=project, name="Patients")
    Field.objects.create(module=module, key="full_name", label="Name", required=True)
    Field.objects.create(module=module, key="age", label="Age", type="number")
    return module


def queued(module, text, mapping, upsert_on=None, author=None, name="patients.csv"):
    upload = SimpleUploadedFile(name, text.encode(), content_type="text/csv")
    header = text.splitlines()[0].split(",")
    return imports.start_import(module, upload, header, mapping, upsert_on, author)


def patients_file(count, bad=()):
    """A header and `count` patients; the rows at the file's lines `bad` have no name."""
    lines = [f"{'' if n + 2 in bad else f'P{n}'},{n}" for n in range(count)]
    return "Name,Age\n" + "\n".join(lines) + "\n"


def names(module):
    return sorted(record.data["full_name"] for record in Record.objects.filter(module=module))


class Killed(BaseException):
    """A worker killed in the middle of a batch: nothing of the batch commits."""


def fail_on_batch(monkeypatch, number, error):
    """Make the `number`th batch written from now raise `error`."""
    write, calls = transfer._write, []

    def write_or_fail(*args):
        calls.append(1)
        if len(calls) == number:
            raise error
        return write(*args)

    monkeypatch.setattr(transfer, "_write", write_or_fail)


def test_the_task_imports_the_kept_file_and_keeps_the_report(patients, member):
    record_import = queued(patients, patients_file(5, bad={4}), {0: "full_name", 1: "age"},
                           author=member)  # fmt: skip
    assert record_import.status == "queued" and record_import.file.name.endswith(".csv")
    assert record_import.file_name == "patients.csv"
    run_record_import(record_import.pk)
    record_import.refresh_from_db()
    assert (record_import.status, record_import.total_rows, record_import.rows_done) == (
        "done",
        5,
        5,
    )
    assert (record_import.created, record_import.updated, record_import.refused_count) == (4, 0, 1)
    assert record_import.refused == [[4, "A value is required for Name."]]
    assert record_import.finished_at is not None and record_import.lease_until is None
    assert names(patients) == ["P0", "P1", "P3", "P4"]
    assert Record.objects.get(data__full_name="P0").entries.get().author == member
    # A finished import is not run again by a late message.
    run_record_import(record_import.pk)
    assert Record.objects.filter(module=patients).count() == 4


def test_progress_is_saved_with_each_batch_and_a_stop_says_which_rows_went_in(
    patients, monkeypatch
):
    monkeypatch.setattr(transfer, "IMPORT_BATCH", 2)
    record_import = queued(patients, patients_file(7, bad={3}), {0: "full_name", 1: "age"})
    fail_on_batch(monkeypatch, 3, OperationalError("the database went away"))
    run_record_import(record_import.pk)
    record_import.refresh_from_db()
    assert record_import.status == "failed"
    assert record_import.error == (
        "The import stopped at row 6 (the database went away). 4 rows before it went in as "
        "the report says; rows from 6 on were not imported."
    )
    assert (record_import.rows_done, record_import.created, record_import.refused_count) == (
        4, 3, 1
    )  # fmt: skip
    assert record_import.refused == [[3, "A value is required for Name."]]
    assert names(patients) == ["P0", "P2", "P3"]

    # Continued, it imports the rest and none of the rows before again.
    imports.continue_import(record_import)
    run_record_import(record_import.pk)
    record_import.refresh_from_db()
    assert (record_import.status, record_import.error) == ("done", "")
    assert (record_import.rows_done, record_import.created, record_import.refused_count) == (
        7, 6, 1
    )  # fmt: skip
    assert names(patients) == ["P0", "P2", "P3", "P4", "P5", "P6"]


def test_an_import_whose_worker_died_resumes_after_its_last_batch(
    patients, monkeypatch, eager_celery
):
    monkeypatch.setattr(transfer, "IMPORT_BATCH", 2)
    record_import = queued(patients, patients_file(7), {0: "full_name", 1: "age"})
    fail_on_batch(monkeypatch, 2, Killed())
    with pytest.raises(Killed):
        run_record_import(record_import.pk)
    record_import.refresh_from_db()
    assert (record_import.status, record_import.rows_done) == ("running", 2)
    assert names(patients) == ["P0", "P1"]

    # The message delivered again while the dead worker's lease runs: nothing is done.
    run_record_import(record_import.pk)
    sweep_stuck_imports()
    assert names(patients) == ["P0", "P1"]

    with time_machine.travel(timezone.now() + imports.LEASE + timedelta(seconds=1)):
        sweep_stuck_imports()
    record_import.refresh_from_db()
    assert (record_import.status, record_import.rows_done, record_import.created) == ("done", 7, 7)
    assert record_import.attempt == 2
    assert names(patients) == [f"P{n}" for n in range(7)]


def test_a_worker_whose_turn_passed_writes_nothing_more(patients):
    record_import = queued(patients, patients_file(3), {0: "full_name", 1: "age"})
    late = imports.claim_import(record_import.pk)
    imports._save(late, total_rows=3)
    with time_machine.travel(timezone.now() + imports.LEASE + timedelta(seconds=1)):
        taken_over = imports.claim_import(record_import.pk)
    with pytest.raises(transfer.ImportInterrupted) as stopped:
        imports._import(late)
    assert isinstance(stopped.value.__cause__, imports.TurnPassed)
    assert not Record.objects.filter(module=patients).exists()
    imports._import(taken_over)
    assert names(patients) == ["P0", "P1", "P2"]


def test_an_import_waiting_for_a_lost_message_is_handed_out_by_the_sweep(patients, eager_celery):
    record_import = queued(patients, patients_file(2), {0: "full_name", 1: "age"})
    sweep_stuck_imports()
    assert RecordImport.objects.get(pk=record_import.pk).status == "queued"
    with time_machine.travel(timezone.now() + imports.LEASE + timedelta(seconds=1)):
        sweep_stuck_imports()
    assert RecordImport.objects.get(pk=record_import.pk).status == "done"


def test_a_file_over_the_row_limit_is_refused_before_a_row_goes_in(patients, monkeypatch):
    monkeypatch.setattr(imports, "MAX_IMPORT_ROWS", 2)
    record_import = queued(patients, patients_file(3), {0: "full_name", 1: "age"})
    run_record_import(record_import.pk)
    record_import.refresh_from_db()
    assert record_import.status == "failed"
    assert record_import.error == (
        "The file has 3 rows; Picky imports up to 2 rows a file. Split it into smaller "
        "files; nothing was imported."
    )
    assert not Record.objects.filter(module=patients).exists()


def test_a_file_that_cannot_be_read_stops_the_import_saying_so(patients):
    record_import = queued(patients, patients_file(2), {0: "full_name", 1: "age"})
    record_import.file.storage.delete(record_import.file.name)
    run_record_import(record_import.pk)
    record_import.refresh_from_db()
    assert record_import.status == "failed"
    assert record_import.error.startswith("The import stopped at row 2 (the file could not be")
    assert record_import.error.endswith("no row went in; rows from 2 on were not imported.")


def test_text_that_is_not_utf8_further_in_the_file_stops_the_import(patients):
    # Past the first 64 KiB, which the page reads to check the header.
    text = patients_file(5000).encode() + "Zoë,3\n".encode("latin-1")
    upload = SimpleUploadedFile("patients.csv", text)
    record_import = imports.start_import(
        patients, upload, ["Name", "Age"], {0: "full_name", 1: "age"}, None, None
    )
    run_record_import(record_import.pk)
    record_import.refresh_from_db()
    assert record_import.status == "failed"
    assert record_import.error == (
        "Picky could not read the whole file: part of it is not UTF-8 text: save it from the "
        "spreadsheet as “CSV UTF-8”. Nothing was imported; fix the file and import it again."
    )
    assert not Record.objects.filter(module=patients).exists()


def test_a_storage_import_names_rows_and_updates_those_with_the_same_name(project):
    prices = Module.objects.create(project=project, name="Prices", kind="storage")
    Field.objects.create(module=prices, key="price", label="Price", type="decimal")
    create_row(prices, "gold", {"price": "9"})
    record_import = queued(prices, "Row,Price\ngold,11\n silver ,4\n", {0: "name", 1: "price"},
                           upsert_on="name")  # fmt: skip
    run_record_import(record_import.pk)
    record_import.refresh_from_db()
    assert (record_import.status, record_import.created, record_import.updated) == ("done", 1, 1)
    rows = {row.name: row.data["price"] for row in Record.objects.filter(module=prices)}
    assert rows == {"gold": "11", "silver": "4"}


def test_deleting_an_import_deletes_its_file(patients, django_capture_on_commit_callbacks):
    record_import = queued(patients, patients_file(1), {0: "full_name"})
    storage, name = record_import.file.storage, record_import.file.name
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        patients.delete()
    assert not storage.exists(name)
