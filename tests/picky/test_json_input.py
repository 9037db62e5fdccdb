"""The JSON sanitiser (picky/json_input.py): what it refuses and how it says where."""

import json

import pytest
from django import forms

from picky.json_input import (
    MAX_NESTING,
    JSONInputError,
    JSONInputField,
    check_storable,
    check_text,
    parse_json,
)


def refusal(value):
    with pytest.raises(JSONInputError) as refused:
        if isinstance(value, (str, bytes)):
            parse_json(value)
        else:
            check_storable(value)
    return refused.value


@pytest.mark.parametrize(
    "text, code, message",
    [
        (
            '{"steps": [{"name": "a\\u0000b"}]}',
            "unsupported_character",
            "The value at 'steps[0].name' holds a NUL character (\\u0000), which cannot be stored.",
        ),
        (
            '{"s": ["ok", "x\\udfff"]}',
            "unsupported_character",
            "The value at 's[1]' holds an unpaired UTF-16 surrogate (\\udfff), which cannot be "
            "stored.",
        ),
        (
            '{"a": {"\\ud800": 1}}',
            "unsupported_character",
            "The key 'a.\\ud800' holds an unpaired UTF-16 surrogate (\\ud800), which cannot be "
            "stored.",
        ),
        ('"\\u0000"', "unsupported_character", "The value holds a NUL character"),
        ('{"n": NaN}', "unsupported_number", "NaN is not valid JSON; send a number or null."),
        ('{"n": -1e999}', "unsupported_number", "The number -1e999 is out of range."),
        ('{"n": ' + "9" * 4301 + "}", "unsupported_number", "A number has 4301 digits"),
        ('{"a": 1,}', "malformed_json", "Not valid JSON: Expecting property name enclosed in"),
        ('{"a":' * 201 + "1" + "}" * 201, "nested_too_deeply", "nested over 200 levels deep"),
        ("[" * 5000 + "]" * 5000, "nested_too_deeply", "nested over 200 levels deep"),
        (b'{"a": "\xff"}', "invalid_encoding", "not valid UTF-8 text (byte 7)"),
    ],
)
def test_what_cannot_be_stored_is_refused_saying_what_and_where(text, code, message):
    refused = refusal(text)
    assert refused.code == code
    assert message in refused.message


def test_the_location_is_the_path_to_the_problem():
    assert refusal('{"steps": [{"name": "\\u0000"}]}').location == ("steps", 0, "name")
    assert refusal('{"\\u0000": 1}').location == ("\x00",)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), [1, {"x": -float("inf")}]])
def test_non_finite_numbers_made_in_python_are_refused(value):
    assert refusal(value).code == "unsupported_number"


def test_nesting_up_to_the_limit_is_kept():
    text = "[" * MAX_NESTING + "]" * MAX_NESTING
    assert json.dumps(parse_json(text)) == text
    assert parse_json(text.encode()) == parse_json(text)


def test_large_finite_numbers_and_text_are_kept():
    text = '{"big": ' + "9" * 300 + ', "small": 1e-300, "s": "\\ud83d\\ude00 \\u00e9"}'
    assert parse_json(text) == {"big": int("9" * 300), "small": 1e-300, "s": "😀 é"}


def test_one_text_is_checked_under_the_name_given():
    check_text("fine", "The X-Request-Id header")
    with pytest.raises(JSONInputError, match="^The X-Request-Id header holds a NUL character"):
        check_text("a\x00", "The X-Request-Id header")


class AttributesForm(forms.Form):
    attributes = JSONInputField(required=False)
    settings = JSONInputField(required=False, null_as=dict)


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"city": "\\u0000"}', "The value at 'city' holds a NUL character"),
        ('{"n": Infinity}', "Infinity is not valid JSON"),
        ("[" * 3000 + "]" * 3000, "nested over 200 levels deep"),
        ('{"a": }', "Not valid JSON: Expecting value at line 1, column 7."),
    ],
)
def test_a_form_field_refuses_with_the_same_messages(text, message):
    form = AttributesForm({"attributes": text})
    assert not form.is_valid()
    assert message in form.errors["attributes"][0]
    # Shown again as typed: what the database cannot store is not rendered back.
    assert form["attributes"].value() == text


def test_a_column_that_cannot_be_null_reads_empty_and_null_as_its_default():
    form = AttributesForm({"attributes": "null", "settings": "null"})
    assert form.is_valid()
    assert form.cleaned_data == {"attributes": None, "settings": {}}
    assert AttributesForm({"settings": ""}).is_valid()


def test_a_form_field_given_a_value_checks_it_too():
    form = AttributesForm({"attributes": {"city": "\ud800"}})
    assert not form.is_valid()
    assert "unpaired UTF-16 surrogate (\\ud800)" in form.errors["attributes"][0]
