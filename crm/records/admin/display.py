"""How records read in the admin: a record's title, a value as text, the timeline."""

from django.utils import timezone

from ..models import Field

# The types whose value can name a record on a card or in a message.
TITLE_TYPES = (Field.Type.TEXT, Field.Type.EMAIL, Field.Type.PHONE, Field.Type.URL)


def record_title(record, fields=None):
    """The record's first text-like value (a patient's name, a deal's title), its row name
    in a data-storage table, else its number."""
    if record.name:
        return record.name
    if fields is None:
        fields = record.module.fields.all()
    for field in fields:
        value = (record.data or {}).get(field.key)
        if field.type in TITLE_TYPES and value not in (None, ""):
            return str(value)
    return f"#{record.pk}"


# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_TYPES = (Field.Type.TEXT, Field.Type.LONG_TEXT, Field.Type.URL, Field.Type.EMAIL)


def value_text(field, value):
    """A stored value as text: what a CSV cell holds, and an import reads back."""
    if value is None or value == "" or value == []:
        return ""
    if field.type == Field.Type.BOOLEAN:
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def csv_cell(field, value):
    """A value for a CSV file: text that a spreadsheet would run as a formula (a payload
    saying "=HYPERLINK(...)") starts with an apostrophe, which spreadsheets show as text."""
    text = value_text(field, value)
    if field.type in TEXT_TYPES and text.startswith(FORMULA_STARTS):
        return f"'{text}"
    return text


def shown_value(field, value, project, members):
    """A stored value as the record list shows it: a date-time in the project's zone, a
    member by name (`members`: {id: name}), a record or contact by its number."""
    if value is None or value == "" or value == []:
        return ""
    if field.type == Field.Type.DATETIME:
        moment = timezone.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return local_time(moment, project, zone=False)
    if field.type == Field.Type.USER:
        return members.get(value, f"user {value}")
    if field.type in (Field.Type.RELATION, Field.Type.CONTACT):
        return f"#{value}"
    return value_text(field, value)


def local_time(moment, project, zone=True):
    """A moment in the project's time zone, the zone said unless a header says it."""
    shown = f"{timezone.localtime(moment, project.tzinfo):%Y-%m-%d %H:%M}"
    return f"{shown} ({project.time_zone})" if zone else shown
