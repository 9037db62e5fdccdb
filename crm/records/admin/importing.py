"""CSV import of a module's records (or a data-storage table's rows): the page checks at
once what it can (the file's header, the columns mapped to fields by a select per column,
guessed from the header by the page's script or here when the page had no script, the
match field), then keeps the file as an import a worker runs (crm/records/imports.py);
the import's page shows its progress and, at its end, which rows went in and why others
did not."""

import csv
import re
from datetime import timedelta

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from ..imports import MAX_IMPORT_BYTES, MAX_IMPORT_ROWS, REFUSED_LISTED, csv_lines, start_import
from ..models import Module, RecordImport
from ..transfer import FIRST_ROW, ROW_NAME, check_mapping
from ..values import RecordError
from .display import local_time

COLUMN_PREFIX = "column_"
ROW_NAME_LABEL = "Row name"
# Imports listed under the form and the progress.
EARLIER_IMPORTS = 10
# A form posted this long without a file carried one that did not arrive in full.
CUT_UPLOAD_BYTES = 64 * 1024
# The progress page reloads itself this often while the import runs.
REFRESH_SECONDS = 2
WAITING_LONG = timedelta(minutes=1)


def normalised(header):
    """A header as the guess compares it: lower-case words joined by "_" ("Date of
    birth" and "date_of_birth" are the same)."""
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def import_targets(module, fields):
    """{target: label} a column can go into: the fields, and a table's row name first."""
    storage = {ROW_NAME: ROW_NAME_LABEL} if module.kind == Module.Kind.STORAGE else {}
    return {**storage, **{field.key: field.label for field in fields}}


def guesses(module, fields):
    """{normalised header: target}: each field by its key and by its label; a table's
    row name by "name" and "row name" (before a field labelled "Name")."""
    guessed = {}
    if module.kind == Module.Kind.STORAGE:
        guessed.update({ROW_NAME: ROW_NAME, "row_name": ROW_NAME, "row": ROW_NAME})
    for field in fields:
        guessed.setdefault(normalised(field.label), field.key)
        guessed[field.key] = field.key
    return guessed


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8, the first line naming the columns; at most "
        f"{filesizeformat(MAX_IMPORT_BYTES)} and {MAX_IMPORT_ROWS:,} rows. It imports in the "
        "background: you can leave the page and come back to its progress.",
    )
    upsert = forms.ChoiceField(
        label="Update records with the same",
        required=False,
        help_text="A row whose value of this field a record already has updates that record; "
        "the others are added. Without it every row is a new record.",
    )

    def __init__(self, *args, module, fields, **kwargs):
        super().__init__(*args, **kwargs)
        if module.kind == Module.Kind.STORAGE:
            self.fields["upsert"].label = "Update rows with the same"
            self.fields["upsert"].help_text = (
                "A row whose name the table already has updates that row; the others are "
                "added. Without it a name the table has is refused."
            )
            self.fields["upsert"].choices = [
                ("", "— (add every row as a new row)"),
                (ROW_NAME, ROW_NAME_LABEL),
            ]
        else:
            unique = [(f.key, f.label) for f in fields if f.unique]
            self.fields["upsert"].choices = [("", "— (add every row as a new record)"), *unique]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; Picky imports files of up to "
                f"{filesizeformat(MAX_IMPORT_BYTES)}. Split it into smaller files."
            )
        return upload


def request_length(request):
    text = request.META.get("CONTENT_LENGTH") or "0"
    return int(text) if text.isdigit() else 0


def cut_upload_message():
    # The web server reads a staff member's upload whole within PICKY_UPLOAD_READ_SECONDS of
    # its connection opening, then cuts it (picky/upload_deadline.py): a file sent, not received.
    seconds = settings.PICKY_UPLOAD_READ_SECONDS
    if seconds >= 60:
        minutes = seconds / 60
        limit = f"{minutes:g} minute{'' if minutes == 1 else 's'}"
    else:
        limit = f"{seconds:g} s"
    return (
        f"The file did not arrive in full: the web server takes {limit} at most to receive an "
        "upload, and this one took longer. Upload it over a faster connection or in smaller "
        "files, or ask whoever runs Picky to raise PICKY_UPLOAD_READ_SECONDS; nothing was "
        "imported."
    )


def read_mapping(data, header, guessed, targets):
    """{column index: target} of the columns that go in: the page's selects
    (column_<i>) when it sent them, else the header's guess."""
    if any(name.startswith(COLUMN_PREFIX) for name in data):
        chosen = {i: data.get(f"{COLUMN_PREFIX}{i}", "") for i in range(len(header))}
    else:
        chosen = {i: guessed.get(normalised(name), "") for i, name in enumerate(header)}
    return {i: key for i, key in chosen.items() if key in targets}


def import_page(request, module):
    """The context of the import page: the form and the module's earlier imports; after
    a valid POST, `started`: the import queued."""
    fields = list(module.fields.all())
    guessed = guesses(module, fields)
    targets = import_targets(module, fields)
    context = {
        "targets": targets,
        "guesses": guessed,
        "earlier_imports": earlier_imports(module),
    }
    if request.method != "POST":
        context["form"] = ImportForm(module=module, fields=fields)
        return context
    form = ImportForm(request.POST, request.FILES, module=module, fields=fields)
    context["form"] = form
    if not form.is_valid():
        if "file" not in request.FILES and request_length(request) > CUT_UPLOAD_BYTES:
            form.errors["file"] = form.error_class([cut_upload_message()])
        return context
    upload = form.cleaned_data["file"]
    upsert = form.cleaned_data.get("upsert") or None
    try:
        header = read_header(upload)
        mapping = checked_mapping(request.POST, module, header, guessed, targets, upsert)
    except RecordError as exc:
        context["import_error"] = exc.message
        return context
    context["started"] = start_import(module, upload, header, mapping, upsert, request.user)
    return context


def read_header(upload):
    """The file's first line as a list of column names; RecordError when the file is not
    UTF-8 CSV or has no header. The rest is read by the worker."""
    try:
        header = next(csv.reader(csv_lines(upload)), None)
    except UnicodeDecodeError:
        raise RecordError(
            "The file is not UTF-8 text. Save it from your spreadsheet as “CSV UTF-8” and "
            "import it again; nothing was imported."
        ) from None
    except csv.Error as exc:
        raise RecordError(f"The file is not CSV a spreadsheet reads: {exc}.") from None
    finally:
        upload.seek(0)
    if not header or not any(name.strip() for name in header):
        raise RecordError("The file is empty: its first line should name the columns.")
    return header


def checked_mapping(data, module, header, guessed, targets, upsert):
    """{column index: target} as the page chose it, or RecordError saying what to change."""
    mapping = read_mapping(data, header, guessed, targets)
    mapped = list(mapping.values())
    twice = sorted({key for key in mapped if mapped.count(key) > 1})
    if twice:
        names = ", ".join(targets[key] for key in twice)
        raise RecordError(f"More than one column goes into {names}; choose one column each.")
    if not mapping:
        raise RecordError(
            "No column goes into a field: choose a field for at least one column "
            f"(the file's columns: {', '.join(header)})."
        )
    if upsert and upsert not in mapped:
        raise RecordError(
            f"To update {'rows' if upsert == ROW_NAME else 'records'} with the same "
            f"{targets[upsert]}, a column must go into it."
        )
    check_mapping(module, mapping, upsert)
    return mapping


def earlier_imports(module):
    """[(import, when it was started in the project's time zone)], the latest first."""
    latest = module.imports.select_related("author")[:EARLIER_IMPORTS]
    return [(each, local_time(each.created_at, module.project, zone=False)) for each in latest]


def progress_page(record_import):
    """The context of an import's page: its progress while it runs, its report once done."""
    module = record_import.module
    targets = import_targets(module, module.fields.all())
    mapping = record_import.mapping
    total = record_import.total_rows
    percent = (100 * record_import.rows_done // total) if total else (100 if total == 0 else 0)
    return {
        "record_import": record_import,
        "refreshing": not record_import.finished,
        "refresh_seconds": REFRESH_SECONDS,
        "percent": percent,
        "next_row": FIRST_ROW + record_import.rows_done,
        "upsert_label": targets.get(record_import.upsert_on, ""),
        "refused_listed": REFUSED_LISTED,
        "refused_more": record_import.refused_count - len(record_import.refused),
        "columns": [
            (name, targets.get(mapping.get(str(i)), ""))
            for i, name in enumerate(record_import.header)
        ],
        "earlier_imports": earlier_imports(module),
        # Queued this long, the import waits for a worker that may not run.
        "waiting_long": record_import.status == RecordImport.Status.QUEUED
        and timezone.now() - record_import.created_at > WAITING_LONG,
    }
