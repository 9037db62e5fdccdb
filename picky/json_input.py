"""Incoming JSON made safe to store: the one sanitiser of every entry point (connector
ingest, channel webhooks, REST API, admin forms, connector import).

A value is storable when the database and Picky can both take it: no NaN or
infinity (not JSON; jsonb refuses them), no integer Python will not read, nesting at
most MAX_NESTING deep (storing and templating recurse once per level), and no NUL
character nor unpaired UTF-16 surrogate in a key or a text (PostgreSQL refuses both
in jsonb and text; a surrogate cannot even be encoded as UTF-8).
"""

import json
import math
import re

from django import forms
from django.core.exceptions import ValidationError
from django.db import models

# Python reads at most this many digits into an int (sys.get_int_max_str_digits()).
MAX_INTEGER_DIGITS = 4300
# Deeper values are refused: storing and templating them recurse once per level.
MAX_NESTING = 200
UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")
# The \u escapes that decode to what the database cannot store (NUL, lone surrogates);
# may also match an escaped backslash before "u", which only costs the full check.
UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


class JSONInputError(ValueError):
    """Incoming JSON (or text) that cannot be stored. `code` names the kind of problem,
    `message` says what and where for the person who sent it, and `location` is the
    keys and indexes leading to it (empty when it is the whole input)."""

    # Over HTTP, a 400 Bad Request: the sender can mend it.
    status = 400

    def __init__(self, code, message, location=()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.location = tuple(location)


class UnstorableNumber(ValueError):
    """A number Python would read but no database stores: NaN, infinities, giant ints."""


def refuse_constant(name):
    raise UnstorableNumber(f"{name} is not valid JSON; send a number or null.")


def finite_float(text):
    value = float(text)
    if math.isinf(value):
        raise UnstorableNumber(f"The number {text[:40]} is out of range.")
    return value


def bounded_int(text):
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise UnstorableNumber(
            f"A number has {digits} digits; at most {MAX_INTEGER_DIGITS} are accepted."
        )
    return int(text)


def decode_json(data):
    """The value of a JSON text (str, or UTF-8 bytes), refusing what no database stores
    among numbers; the text inside still needs `check_storable` (or, for bytes,
    `json_surely_storable`). Raises JSONInputError."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JSONInputError(
                "invalid_encoding", f"The JSON is not valid UTF-8 text (byte {exc.start})."
            ) from exc
    try:
        return json.loads(
            data, parse_constant=refuse_constant, parse_float=finite_float, parse_int=bounded_int
        )
    except UnstorableNumber as exc:
        raise JSONInputError("unsupported_number", str(exc)) from exc
    except json.JSONDecodeError as exc:
        raise JSONInputError(
            "malformed_json",
            f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
        ) from exc
    except RecursionError as exc:
        raise JSONInputError(
            "nested_too_deeply", f"The JSON is nested over {MAX_NESTING} levels deep."
        ) from exc


def parse_json(data):
    """The value of a JSON text, checked whole: JSONInputError unless it can be stored."""
    value = decode_json(data)
    if not (isinstance(data, bytes) and json_surely_storable(data)):
        check_storable(value)
    return value


def json_surely_storable(body):
    """Whether a JSON body that parsed is storable, read off its bytes: too few brackets
    to nest MAX_NESTING deep (with one level to spare, for a wrapper the caller may add),
    and no escape of an unstorable character (unescaped, NUL is refused by the parser
    and a surrogate by the UTF-8 decoding). When unsure (False), `check_storable` walks
    the value."""
    brackets = body.count(b"{") + body.count(b"[")
    return brackets + 1 < MAX_NESTING and not UNSTORABLE_ESCAPE.search(body)


def check_storable(value):
    """Refuse nesting deeper than MAX_NESTING, non-finite numbers and text the database
    cannot store, naming where. Iterative, and a path is spelled out only for an error."""
    stack = [(value, None, 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, dict):
            if depth >= MAX_NESTING:
                raise too_deep_error(where)
            for key, child in value.items():
                if UNSTORABLE_CHARACTER.search(key):
                    raise unstorable_text_error(key, (where, key), is_key=True)
                stack.append((child, (where, key), depth + 1))
        elif isinstance(value, list):
            if depth >= MAX_NESTING:
                raise too_deep_error(where)
            stack.extend((child, (where, index), depth + 1) for index, child in enumerate(value))
        elif isinstance(value, str):
            if UNSTORABLE_CHARACTER.search(value):
                raise unstorable_text_error(value, where)
        elif isinstance(value, float) and not math.isfinite(value):
            raise JSONInputError(
                "unsupported_number",
                f"{spell_place(where)} is {value}, which is not a JSON number; "
                "send a number or null.",
                unlink(where),
            )


def check_text(text, where):
    """Refuse one text (a header, a query parameter, a name) the database cannot store;
    `where` names it in the message ("The X-Request-Id header")."""
    if UNSTORABLE_CHARACTER.search(text):
        raise unstorable_text_error(text, None, described=where)


def unlink(where):
    """(parent, key-or-index) links as the tuple of keys and indexes they lead through."""
    steps = []
    while where is not None:
        where, step = where
        steps.append(step)
    return tuple(reversed(steps))


def spell_path(location):
    """Keys and indexes as text: `order.lines[1].sku`."""
    return "".join(
        f"[{step}]" if isinstance(step, int) else f".{step}" for step in location
    ).lstrip(".")


def spell_place(where, is_key=False):
    location = unlink(where)
    if not location:
        return "The value"
    return f"The {'key' if is_key else 'value at'} {spell_path(location)!r}"


def too_deep_error(where):
    location = unlink(where)
    return JSONInputError(
        "nested_too_deeply",
        f"The JSON is nested over {MAX_NESTING} levels deep (at {spell_path(location)!r}).",
        location,
    )


def unstorable_character(text):
    """What in `text` the database cannot store ("a NUL character (\\u0000)"), or None."""
    found = UNSTORABLE_CHARACTER.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "a NUL character (\\u0000)"
    return f"an unpaired UTF-16 surrogate (\\u{ord(found.group()):04x})"


def unstorable_text_error(text, where, is_key=False, described=None):
    return JSONInputError(
        "unsupported_character",
        f"{described or spell_place(where, is_key)} holds {unstorable_character(text)}, "
        "which cannot be stored.",
        unlink(where),
    )


class JSONInputField(forms.JSONField):
    """A form's JSON, read and checked by the sanitiser: a syntax error says where, and
    what the database would refuse is a form error rather than a crash at save.

    `null_as`, for a column that cannot be null: a callable giving what an empty box or
    null stands for (the column's default)."""

    def __init__(self, *, null_as=None, **kwargs):
        self.null_as = null_as
        super().__init__(**kwargs)

    def to_python(self, value):
        value = self.read(value)
        if value is None and self.null_as is not None:
            return self.null_as()
        return value

    def read(self, value):
        if self.disabled or value in self.empty_values:
            return super().to_python(value)
        try:
            if isinstance(value, str) and not isinstance(value, forms.fields.JSONString):
                value = parse_json(value)
                return forms.fields.JSONString(value) if isinstance(value, str) else value
            check_storable(value)
        except JSONInputError as exc:
            raise ValidationError(exc.message, code=exc.code) from exc
        return value

    def bound_data(self, data, initial):
        if self.disabled or not isinstance(data, str):
            return super().bound_data(data, initial)
        try:
            return parse_json(data)
        except JSONInputError:
            # Shown again as typed, with the error that to_python gives.
            return forms.fields.InvalidJSONInput(data)


class JSONInputAdminMixin:
    """For a ModelAdmin or an inline: every JSON column of the model is edited through
    JSONInputField, so JSON typed into any admin page goes through the sanitiser."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.JSONField):
            kwargs.setdefault("form_class", JSONInputField)
            if not db_field.null:
                kwargs.setdefault("null_as", db_field.get_default)
        return super().formfield_for_dbfield(db_field, request, **kwargs)
