"""Field types of the record store: one small class per type, in a registry.

Each type cleans a value on write (`clean`: validate and normalise, or RecordError naming
the field), says which criteria operators it allows, and gives the expression records
are compared and sorted by (`sort_expression`), which is also the expression of the
field's index (crm/records/indexes.py), so that a search or a sort on an indexed field
uses it.

What `Record.data` holds per type (normalised on write, so searches compare plainly):
- text, long_text, url: the text, trimmed; compared and sorted case-insensitively
- email: lower-case; phone: digits with the country code (crm's number rules)
- number: a JSON number (an int when whole)
- decimal: the exact number as text ("1234.5", never through a float, trailing zeros
  dropped), compared and sorted as a number
- date: "YYYY-MM-DD"; datetime: UTC "YYYY-MM-DDTHH:MM:SSZ" (read by picky.dates, naive
  values in the project's time zone); both sort as text, which is their order
- choice: the choice as the field spells it; multi_choice: a list of them, in the
  field's order; boolean: true / false
- user: a project member's id; relation: the id of a record of the related module;
  contact: the id of a contact of the project
An empty value (None, "", []) is no value: the key is left out of `data`.
"""

import json
import re
from datetime import UTC
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models import (
    BigIntegerField,
    DecimalField,
    ExpressionWrapper,
    FloatField,
    Func,
    TextField,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Lower

from picky.dates import DateError, read_datetime
from picky.models import Membership

from ..models import Contact
from ..services import ContactError, clean_email, clean_number, project_agent
from .models import Record


class RecordError(ValueError):
    """Record data that cannot be used; the message says what and where. `field` is the
    key of the field it is about, `errors` {field key: message} when several are wrong."""

    def __init__(self, message, field=None, errors=None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors or ({field: message} if field else {})


class DuplicateError(RecordError):
    """A value of a unique field (or a row name) another record already has."""


EMPTY_OPS = ("is_empty", "is_not_empty")
TEXT_OPS = (
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "in_list",
    "not_in_list",
    *EMPTY_OPS,
)
NUMBER_OPS = ("equals", "not_equals", "gt", "gte", "lt", "lte", "between", "in_list", "not_in_list")
DATE_OPS = ("equals", "not_equals", "before", "after", "gte", "lte", "between")
ID_OPS = ("equals", "not_equals", "in_list", "not_in_list", *EMPTY_OPS)
TEXT_LIMIT = 1000
LONG_TEXT_LIMIT = 100_000
TRUE_WORDS = {"true", "yes", "y", "1", "on"}
FALSE_WORDS = {"false", "no", "n", "0", "off"}
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

FIELD_TYPES = {}


class AsNumeric(Func):
    """Text as an exact number: PostgreSQL's numeric of any precision (Django's Cast
    to a DecimalField needs one); SQLite's NUMERIC."""

    output_field = DecimalField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="(%(expressions)s)::numeric", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        template = "CAST(%(expressions)s AS NUMERIC)"
        return self.as_sql(compiler, connection, template=template, **extra)


def field_type(key):
    def register(cls):
        if key in FIELD_TYPES:
            raise ValueError(f"Field type {key!r} is registered twice.")
        cls.key = key
        FIELD_TYPES[key] = cls()
        return cls

    return register


def type_of(field):
    return FIELD_TYPES[field.type]


def is_empty(value):
    return value is None or value == "" or value == [] or value == {}


class FieldType:
    key = ""
    operators = TEXT_OPS
    # Whether equal values are equal JSON: then PostgreSQL's GIN index (data @> {...})
    # serves `equals`; text compares whatever its case, which containment cannot.
    exact = True

    def clean(self, field, value, project):
        """The normalised value of `field`, or RecordError naming the field."""
        raise NotImplementedError

    def clean_operand(self, field, value, project):
        """A criterion's value as the stored values it is compared with."""
        return self.clean(field, value, project)

    def sort_expression(self, key):
        # The value as text: a plain KT would compare as JSON (json_extract on SQLite).
        return ExpressionWrapper(KT(f"data__{key}"), output_field=TextField())

    def refuse(self, field, message):
        raise RecordError(f"{field.label or field.key}: {message}", field=field.key)


@field_type("text")
class Text(FieldType):
    exact = False
    limit = TEXT_LIMIT

    def clean(self, field, value, project):
        if isinstance(value, (dict, list)):
            self.refuse(field, "expected text, not a list or an object.")
        text = str(value).strip()
        if len(text) > self.limit:
            self.refuse(field, f"at most {self.limit:,} characters (this is {len(text):,}).")
        return text

    def clean_operand(self, field, value, project):
        return str(value).strip().lower()

    def sort_expression(self, key):
        return Lower(KT(f"data__{key}"))


@field_type("long_text")
class LongText(Text):
    limit = LONG_TEXT_LIMIT
    operators = ("contains", "not_contains", "equals", "not_equals", *EMPTY_OPS)


@field_type("url")
class Url(Text):
    validate = URLValidator(schemes=["http", "https"])

    def clean(self, field, value, project):
        text = super().clean(field, value, project)
        try:
            self.validate(text)
        except ValidationError:
            self.refuse(field, f"{text!r} is not a web address (http:// or https://).")
        return text


@field_type("email")
class Email(Text):
    def clean(self, field, value, project):
        try:
            return clean_email(value)
        except ContactError as exc:
            self.refuse(field, str(exc))


@field_type("phone")
class Phone(Text):
    def clean(self, field, value, project):
        try:
            return clean_number(value)
        except ContactError as exc:
            self.refuse(field, str(exc))

    def clean_operand(self, field, value, project):
        # Part of a number ("9847") is searched as typed; a whole one as its digits.
        digits = re.sub(r"\D", "", str(value))
        return digits.lstrip("0") if len(digits) >= 7 else digits


@field_type("number")
class Number(FieldType):
    operators = (*NUMBER_OPS, *EMPTY_OPS)

    def clean(self, field, value, project):
        number = self.read(field, value)
        if not number.is_finite():
            self.refuse(field, f"{value!r} is not a number.")
        return int(number) if number == number.to_integral_value() else float(number)

    def read(self, field, value):
        if isinstance(value, (bool, dict, list)):
            self.refuse(field, f"{value!r} is not a number.")
        text = str(value).strip().replace(",", "")
        try:
            return Decimal(text)
        except InvalidOperation:
            self.refuse(field, f"{value!r} is not a number.")

    def sort_expression(self, key):
        return Cast(KT(f"data__{key}"), FloatField())


@field_type("decimal")
class DecimalNumber(Number):
    # Compared in the database as exact numbers (numeric), never as floats.
    exact = False

    def clean(self, field, value, project):
        number = self.read(field, value)
        if not number.is_finite():
            self.refuse(field, f"{value!r} is not a number.")
        text = format(number.normalize(), "f")
        return "0" if text in ("-0", "") else text

    def sort_expression(self, key):
        return AsNumeric(KT(f"data__{key}"))


@field_type("date")
class Date(FieldType):
    operators = (*DATE_OPS, *EMPTY_OPS)

    def moment(self, field, value, project):
        try:
            return read_datetime(value, ZoneInfo(project.time_zone))
        except DateError as exc:
            self.refuse(field, str(exc))

    def clean(self, field, value, project):
        return self.moment(field, value, project).date().isoformat()


@field_type("datetime")
class DateTime(Date):
    def clean(self, field, value, project):
        return self.moment(field, value, project).astimezone(UTC).strftime(DATETIME_FORMAT)


@field_type("choice")
class Choice(FieldType):
    operators = ID_OPS

    def clean(self, field, value, project):
        text = str(value).strip()
        # {lower-case choice: choice}, made once per field instance (an import reads
        # thousands of values against the same field).
        by_lower = getattr(field, "_choices_by_lower", None)
        if by_lower is None:
            by_lower = field._choices_by_lower = {c.lower(): c for c in reversed(field.choices)}
        choice = by_lower.get(text.lower())
        if choice is None:
            self.refuse(field, f"{text!r} is not one of its choices: {', '.join(field.choices)}.")
        return choice


@field_type("multi_choice")
class MultiChoice(Choice):
    operators = ("contains", "not_contains", "in_list", *EMPTY_OPS)
    exact = False

    def clean(self, field, value, project):
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            self.refuse(field, "expected a list of choices.")
        chosen = {Choice.clean(self, field, item, project) for item in value}
        return [choice for choice in field.choices if choice in chosen]

    def clean_operand(self, field, value, project):
        return Choice.clean(self, field, value, project)


@field_type("boolean")
class Boolean(FieldType):
    operators = ("is_true", "is_false", "equals", *EMPTY_OPS)

    def clean(self, field, value, project):
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        self.refuse(field, f"{value!r} is not yes or no.")


class Reference(FieldType):
    """A row's id: an int, given as a number or digits."""

    operators = ID_OPS
    what = ""

    def read_id(self, field, value):
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit():
            self.refuse(field, f"{value!r} is not the id of {self.what}.")
        return int(text)

    def sort_expression(self, key):
        return Cast(KT(f"data__{key}"), BigIntegerField())

    def clean_operand(self, field, value, project):
        return self.read_id(field, value)


@field_type("user")
class User(Reference):
    what = "a member of the project"

    def clean_operand(self, field, value, project):
        return self.clean(field, value, project)

    def clean(self, field, value, project):
        text = str(value).strip()
        if not isinstance(value, bool) and text.isdigit():
            user_id = int(text)
            if Membership.objects.filter(project=project, user_id=user_id).exists():
                return user_id
            self.refuse(field, f"user {user_id} is not a member of the project.")
        try:
            return project_agent(project, text).pk
        except ContactError as exc:
            self.refuse(field, str(exc))


@field_type("relation")
class Relation(Reference):
    what = "a record"

    def clean(self, field, value, project):
        record_id = self.read_id(field, value)
        related = field.related_module
        if not Record.objects.filter(pk=record_id, module=related).exists():
            self.refuse(field, f"{related} has no record {record_id}.")
        return record_id


@field_type("contact")
class ContactReference(Reference):
    what = "a contact"

    def clean(self, field, value, project):
        contact_id = self.read_id(field, value)
        if not Contact.objects.filter(pk=contact_id, project=project).exists():
            self.refuse(field, f"the project has no contact {contact_id}.")
        return contact_id


def clean_value(field, value, project):
    """`value` normalised for `field`; None when it is empty."""
    if is_empty(value):
        return None
    return type_of(field).clean(field, value, project)


def shown(value):
    """A stored value as a timeline line shows it."""
    if value is None:
        return "(empty)"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value if isinstance(value, str) else json.dumps(value)
