"""Form fields shared by action config forms."""

import json

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from crm import services as crm
from picky.json_input import JSONInputError, parse_json
from teambox import services as messaging

from ..base import ProjectNameField


class RowsInput(forms.Textarea):
    """The one widget of list settings (`shape` "list": recipients, tags, template values)
    and the one of key/value settings ("map": headers, body values, attributes): the
    admin shows rows to add and remove (picky/builder.js), each a template box (`item`
    "map": each row a key/value object, as buttons are), and "Edit as JSON" shows the
    value itself, which stays what the form submits.

    `any_json`: the setting may also be another value (a text body); it shows as JSON then.
    `source`: the picker offering names in each row (the action page sets `url`).
    `keys`: the names a row's key box offers (a button's settings).
    `fields` (`item` "fields"): each row an object with these settings, a labelled box each
    ({"key", "label", "source": a picker, "within": the setting of the same row narrowing
    that picker, "placeholder"}); the action page sets `urls` (picker source -> endpoint)
    and `own_connector` (what an empty "within" setting means). `noun` names a row in the
    field's errors ("Target 2: ..."), which the page shows at that row."""

    def __init__(
        self,
        shape,
        *,
        item="text",
        any_json=False,
        source="",
        keys=(),
        fields=(),
        noun="",
        attrs=None,
    ):
        self.shape, self.item, self.any_json, self.source = shape, item, any_json, source
        self.keys = tuple(keys)
        self.fields, self.noun = tuple(fields), noun
        self.url = ""
        self.urls = {}
        self.own_connector = ""
        # Off for a JSON field, which reads the text itself (and says where it breaks).
        self.parses_json = True
        super().__init__(
            attrs={"class": "picky-json", "rows": 4, "spellcheck": "false", **(attrs or {})}
        )

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        widget_attrs = context["widget"]["attrs"]
        widget_attrs["data-picky-rows"] = self.shape
        if self.item != "text":
            widget_attrs["data-picky-item"] = self.item
        if self.any_json:
            widget_attrs["data-picky-any"] = "1"
        if self.url:
            widget_attrs["data-picky-picker-url"] = self.url
        if self.keys:
            widget_attrs["data-picky-keys"] = json.dumps(self.keys)
        if self.fields:
            widget_attrs["data-picky-fields"] = json.dumps(
                [{**field, "url": self.urls.get(field.get("source"), "")} for field in self.fields]
            )
            widget_attrs["data-picky-noun"] = self.noun
            widget_attrs["data-picky-own-connector"] = self.own_connector
        return context

    def format_value(self, value):
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            return value  # as typed, or a JSON field's text
        return json.dumps(value, indent=2, ensure_ascii=False)

    def value_from_datadict(self, data, files, name):
        value = super().value_from_datadict(data, files, name)
        if not self.parses_json or not isinstance(value, str):
            return value
        if not (self.any_json or value.strip()[:1] in ("[", "{")):
            return value
        try:
            parsed = parse_json(value)
        except JSONInputError:
            # Kept as typed: the field refuses it with its own error (or takes it as text).
            return value
        return value if isinstance(parsed, str) else parsed

    class Media:
        css = {"all": ["picky/builder.css"]}
        js = ["picky/attribute-picker.js", "picky/builder.js"]


class TextListField(forms.Field):
    """A list of texts, or one comma-separated text (what a form box gives)."""

    item_noun = "items"
    # Shown as rows (RowsInput) on the action page.
    rows = "list"

    def to_python(self, value):
        if value in (None, ""):
            return []
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, list):
            raise ValidationError(f"Give a list of {self.item_noun} or a comma-separated text.")
        return [str(item).strip() for item in value if str(item).strip()]


class TemplatedEmailListField(TextListField):
    """A list of addresses (or one comma-separated string); each is an address or a template."""

    item_noun = "addresses"

    def __init__(self, *, max_items=10, **kwargs):
        self.max_items = max_items
        super().__init__(**kwargs)

    def validate(self, value):
        super().validate(value)
        if len(value) > self.max_items:
            raise ValidationError(f"At most {self.max_items} addresses; {len(value)} given.")
        for address in value:
            if "{{" in address:
                continue
            try:
                validate_email(address)
            except ValidationError as exc:
                raise ValidationError(f"{address!r} is not a valid email address.") from exc

    @staticmethod
    def rendered_addresses(value):
        """(valid, invalid) addresses of a rendered list (a template may expand to 'a, b')."""
        items = value if isinstance(value, list) else [value or ""]
        valid, invalid = [], []
        for item in items:
            for part in str(item or "").split(","):
                part = part.strip()
                if not part:
                    continue
                try:
                    validate_email(part)
                except ValidationError:
                    invalid.append(part)
                else:
                    valid.append(part)
        return valid, invalid


class JSONValueField(forms.Field):
    """Any JSON value as given (text, number, list, object): config is JSON already."""

    def to_python(self, value):
        return value

    def validate(self, value):
        if self.required and value in (None, ""):
            raise ValidationError(self.error_messages["required"], code="required")


class ChannelNameField(ProjectNameField):
    """The name of one of the project's channels, whatever its case."""

    picker = "channels"

    def check_in_project(self, name, project):
        if messaging.find_channel(project, name) is None:
            raise ValidationError(messaging.unknown_channel_message(project, name))


class MemberField(ProjectNameField):
    """A member of the project, by username or e-mail address, whatever its case."""

    picker = "members"

    def check_in_project(self, name, project):
        try:
            crm.project_agent(project, name)
        except crm.ContactError as exc:
            raise ValidationError(str(exc)) from exc
