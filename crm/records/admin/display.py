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


def value_text(field, value):
    """A stored value as a person reads it in a list, a card or a CSV cell."""
    if value is None or value == "" or value == []:
        return ""
    if field.type == Field.Type.BOOLEAN:
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def local_time(moment, project, zone=True):
    """A moment in the project's time zone, the zone said unless a header says it."""
    shown = f"{timezone.localtime(moment, project.tzinfo):%Y-%m-%d %H:%M}"
    return f"{shown} ({project.time_zone})" if zone else shown
