"""CSV import of a module's records: the file is read as it streams (never whole in
memory), its columns mapped to fields (a select per column, guessed from the header by
the page's script, or here when the page had no script), records matched on an upsert
field, and the record store's import_records says which rows went in and why others
did not."""

import codecs
import csv
import re

from django import forms
from django.template.defaultfilters import filesizeformat

from ..transfer import ImportInterrupted, import_records
from ..values import RecordError

# Bigger files are refused before a row is read, with the limit said: an import runs
# while the page waits.
MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_IMPORT_ROWS = 50_000
COLUMN_PREFIX = "column_"


def normalised(header):
    """A header as the guess compares it: lower-case words joined by "_" ("Date of
    birth" and "date_of_birth" are the same)."""
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def guesses(fields):
    """{normalised header: field key}: each field by its key and by its label."""
    guessed = {}
    for field in fields:
        guessed.setdefault(normalised(field.label), field.key)
        guessed[field.key] = field.key
    return guessed


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8, the first line naming the columns; at most "
        f"{filesizeformat(MAX_IMPORT_BYTES)} and {MAX_IMPORT_ROWS:,} rows.",
    )
    upsert = forms.ChoiceField(
        label="Update records with the same",
        required=False,
        help_text="A row whose value of this field a record already has updates that record; "
        "the others are added. Without it every row is a new record.",
    )

    def __init__(self, *args, fields, **kwargs):
        super().__init__(*args, **kwargs)
        unique = [(f.key, f.label) for f in fields if f.unique]
        self.fields["upsert"].choices = [("", "— (add every row as a new record)"), *unique]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; Picky imports files of up to "
                f"{filesizeformat(MAX_IMPORT_BYTES)} at once. Split it into smaller files."
            )
        return upload


def text_lines(upload):
    """The upload's lines as text, decoded as they are read (a BOM is dropped)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    for chunk in upload.chunks():
        pending += decoder.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def read_mapping(data, header, guessed, targets):
    """{column index: field key} of the columns that go in: the page's selects
    (column_<i>) when it sent them, else the header's guess."""
    if any(name.startswith(COLUMN_PREFIX) for name in data):
        chosen = {i: data.get(f"{COLUMN_PREFIX}{i}", "") for i in range(len(header))}
    else:
        chosen = {i: guessed.get(normalised(name), "") for i, name in enumerate(header)}
    return {i: key for i, key in chosen.items() if key in targets}


def import_page(request, module):
    """The context of the import page: the form, and after a run its report."""
    fields = list(module.fields.all())
    guessed = guesses(fields)
    targets = {field.key: field.label for field in fields}
    context = {"targets": targets, "guesses": guessed, "max_rows": MAX_IMPORT_ROWS}
    if request.method != "POST":
        context["form"] = ImportForm(fields=fields)
        return context
    form = ImportForm(request.POST, request.FILES, fields=fields)
    context["form"] = form
    if not form.is_valid():
        return context
    try:
        context["report"] = run_import(request, module, form, guessed, targets)
    except ImportInterrupted as exc:
        context["import_error"] = exc.message
        context["report"] = {"result": exc.report}
    except RecordError as exc:
        context["import_error"] = exc.message
    except UnicodeDecodeError:
        context["import_error"] = (
            "The file is not UTF-8 text. Save it from your spreadsheet as “CSV UTF-8” and "
            "import it again; nothing was imported."
        )
    except csv.Error as exc:
        context["import_error"] = f"The file is not CSV a spreadsheet reads: {exc}."
    return context


def run_import(request, module, form, guessed, targets):
    upload = form.cleaned_data["file"]
    rows = csv.reader(text_lines(upload))
    header = next(rows, None)
    if not header:
        raise RecordError("The file is empty: its first line should name the columns.")
    mapping = read_mapping(request.POST, header, guessed, targets)
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
    upsert = form.cleaned_data.get("upsert") or None
    if upsert and upsert not in mapped:
        raise RecordError(
            f"To update records with the same {targets[upsert]}, a column must go into it."
        )
    total = count_rows(upload)
    if total > MAX_IMPORT_ROWS:
        raise RecordError(
            f"The file has {total:,} rows; Picky imports up to {MAX_IMPORT_ROWS:,} at once. "
            "Split it into smaller files; nothing was imported."
        )
    rows = csv.reader(text_lines(upload))
    next(rows)  # the header
    cells = (dict(enumerate(row)) for row in rows)
    report = import_records(module, cells, mapping, upsert_on=upsert, author=request.user)
    return {
        "result": report,
        "columns": [(name, targets.get(mapping.get(i), "")) for i, name in enumerate(header)],
    }


def count_rows(upload):
    return sum(1 for _ in csv.reader(text_lines(upload))) - 1
