"""A record's form in the agents' pages, generated from its module's fields (all of them
to edit the record, a macro button's to submit it), pre-filled with the record's values.

The form only collects what was typed, as text (a list for a multiple choice): the record
store cleans it (crm.records clean_values), so that a value is refused with the same words
here, in the admin and in an action; its errors are put back on the form's fields. Only
the values the user changed are written, so the record's timeline says what they did."""

from datetime import UTC, datetime

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from crm.records.models import Field
from crm.records.services import clean_values
from picky.models import Membership

Type = Field.Type
BOOLEAN_CHOICES = [("", "—"), ("true", "Yes"), ("false", "No")]
# What an <input type="datetime-local"> shows and sends: the project's time, to the minute.
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"
STORED_DATETIME = "%Y-%m-%dT%H:%M:%SZ"
INPUT_TYPES = {
    Type.EMAIL: "email",
    Type.PHONE: "tel",
    Type.URL: "url",
    Type.NUMBER: "number",
    Type.DECIMAL: "number",
    Type.DATE: "date",
    Type.DATETIME: "datetime-local",
}


def member_choices(project):
    """The project's members as (id, name) for a user field, by name."""
    members = (
        get_user_model()
        .objects.filter(pk__in=Membership.objects.filter(project=project).values("user"))
        .order_by("username")
    )
    return [("", "—")] + [(str(user.pk), user.get_full_name() or user.username) for user in members]


def form_field(field, project):
    """The form field that collects a value of record field `field`."""
    common = {"label": field.label or field.key, "required": False}
    if field.type == Type.LONG_TEXT:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), strip=False, **common)
    if field.type == Type.CHOICE:
        choices = [("", "—")] + [(choice, choice) for choice in field.choices]
        return forms.CharField(widget=forms.Select(choices=choices), **common)
    if field.type == Type.MULTI_CHOICE:
        return forms.MultipleChoiceField(
            choices=[(choice, choice) for choice in field.choices],
            widget=forms.CheckboxSelectMultiple,
            **common,
        )
    if field.type == Type.BOOLEAN:
        return forms.CharField(widget=forms.Select(choices=BOOLEAN_CHOICES), **common)
    if field.type == Type.USER:
        return forms.CharField(widget=forms.Select(choices=member_choices(project)), **common)
    attrs = {"type": INPUT_TYPES.get(field.type, "text")}
    if field.type in (Type.NUMBER, Type.DECIMAL):
        attrs["step"] = "any"
    if field.type in (Type.RELATION, Type.CONTACT):
        attrs["inputmode"] = "numeric"
        common["help_text"] = (
            "The record's id." if field.type == Type.RELATION else ("The contact's id.")
        )
    return forms.CharField(widget=forms.TextInput(attrs=attrs), **common)


def shown_in_form(field, value):
    """A stored value as its form field shows it."""
    if value is None:
        return [] if field.type == Type.MULTI_CHOICE else ""
    if field.type == Type.BOOLEAN:
        return "true" if value else "false"
    if field.type == Type.DATETIME:
        try:
            moment = datetime.strptime(value, STORED_DATETIME).replace(tzinfo=UTC)
        except (TypeError, ValueError):
            return str(value)
        return timezone.localtime(moment).strftime(LOCAL_MINUTE)
    if field.type == Type.MULTI_CHOICE:
        return list(value) if isinstance(value, list) else [value]
    return str(value)


class RecordForm(forms.Form):
    """One form field per record field of `fields` (Field rows, in their order), keyed by
    the field's key, pre-filled from `record`'s data."""

    def __init__(self, fields, record, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.record_fields = list(fields)
        for field in self.record_fields:
            self.fields[field.key] = form_field(field, record.project)
            self.initial[field.key] = shown_in_form(field, record.data.get(field.key))

    def changed_values(self, module):
        """{field key: value as typed} of the fields of a valid form whose value the user
        changed ("" empties a field), once the record store has cleaned every value of
        the form (a required one of its fields must have one); RecordError otherwise."""
        typed = {field.key: self.cleaned_data.get(field.key) for field in self.record_fields}
        fields = {field.key: field for field in self.record_fields}
        clean_values(module, typed, partial=False, fields=fields)
        return {key: typed[key] for key in self.changed_data}

    def add_record_errors(self, error):
        """Put a RecordError's messages on the fields it names (the form's top otherwise)."""
        errors = getattr(error, "errors", None) or {}
        for key, message in errors.items():
            self.add_error(key if key in self.fields else None, message)
        if not errors:
            self.add_error(None, str(error))
