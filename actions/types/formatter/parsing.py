"""The data_parser action: take a text (or a value) apart. Split it by a separator, extract
with a regular expression (RE2 through picky/patterns.py, named groups becoming fields),
parse the JSON or the query string it holds (Paddle's `passthrough`), or pick a value by
a JMESPath path (the paths templates use)."""

from urllib.parse import parse_qs

from django import forms
from django.utils.html import escape

from picky import patterns
from picky.json_input import JSONInputError, parse_json
from picky.templating import TemplateSyntaxError, compile_path, resolve, to_text

from ...base import ActionConfigForm, ActionError, ActionType, Result
from ...registry import register
from ..fields import JSONValueField

OPERATIONS = {
    "split": "Split by a separator",
    "extract": "Extract with a regular expression",
    "json": "Parse JSON held in a text",
    "query_string": "Parse a query string (a=1&b=2)",
    "path": "Pick a value by path",
}
# RE2 matches in time linear in the text; a text is cut to this many characters.
EXTRACT_TEXT_MAX = 100_000
MAX_MATCHES = 1_000
MAX_QUERY_FIELDS = 1_000
# How a separator names the characters a form box cannot hold.
ESCAPES = {"\\n": "\n", "\\t": "\t", "\\r\\n": "\r\n"}


class DataParserForm(ActionConfigForm):
    text = JSONValueField(
        help_text="The text to parse, usually a template ({{ event.passthrough }}).",
    )
    operation = forms.ChoiceField(choices=list(OPERATIONS.items()))
    separator = forms.CharField(
        required=False,
        max_length=20,
        strip=False,
        help_text="Split: the separator (default a comma; \\n is a new line, \\t a tab).",
    )
    pattern = forms.CharField(
        required=False,
        max_length=2000,
        # Escaped: the admin shows help texts as HTML, where <order> would vanish.
        help_text=escape(
            "Extract: a regular expression (RE2); each named group (?P<order>\\d+) becomes a "
            "field. It matches anywhere and ignores case unless asked not to."
        ),
    )
    case_sensitive = forms.BooleanField(required=False, help_text="Extract: match the case.")
    all_matches = forms.BooleanField(
        required=False, help_text="Extract: every match (`matches`), not the first only."
    )
    path = forms.CharField(
        required=False,
        max_length=1000,
        help_text=(
            "Pick a value by path (items[0].sku); with JSON or a query string, picked from "
            "the parsed value."
        ),
    )

    def clean(self):
        cleaned = super().clean()
        operation = cleaned.get("operation")
        pattern = cleaned.get("pattern") or ""
        if operation == "extract":
            problem = patterns.check_pattern(pattern) if pattern else "Give the pattern."
            if problem:
                self.add_error("pattern", problem)
        path = cleaned.get("path") or ""
        if operation == "path" and not path:
            self.add_error("path", "Give the path of the value to pick, e.g. items[0].sku.")
        if path:
            try:
                compile_path(path)
            except TemplateSyntaxError as exc:
                self.add_error("path", f"{exc}.")
        return cleaned


@register("data_parser")
class DataParser(ActionType):
    label = "Data Parser"
    category = "Formatter"
    description = (
        "Split a text, extract fields with a regular expression, parse JSON or a query "
        "string, or pick a value by path; the result goes under Save as."
    )
    form_class = DataParserForm
    literal_fields = ("operation", "separator", "pattern", "case_sensitive", "all_matches", "path")
    shows_preview = True

    def run(self, ctx, inputs):
        value, operation = inputs.get("text"), inputs.get("operation")
        if operation == "split":
            return Result(outputs=split(value, inputs.get("separator")))
        if operation == "extract":
            return Result(outputs=extract(value, inputs))
        if operation == "json":
            value = parsed_json(value)
        elif operation == "query_string":
            value = parsed_query(value)
        if inputs.get("path"):
            value = resolve(inputs["path"], value)
        return Result(outputs={"value": value})


def split(value, separator):
    separator = ESCAPES.get(separator, separator) if separator else ","
    text = to_text(value).strip()
    items = [item.strip() for item in text.split(separator)] if text else []
    return {
        "items": items,
        "count": len(items),
        "first": items[0] if items else "",
        "last": items[-1] if items else "",
    }


def extract(value, inputs):
    regex = patterns.compiled(inputs["pattern"], bool(inputs.get("case_sensitive")))
    text = to_text(value)[:EXTRACT_TEXT_MAX]
    if not inputs.get("all_matches"):
        match = regex.search(text)
        return {"matched": match is not None, **described(match)}
    matches = []
    for match in regex.finditer(text):
        matches.append(described(match))
        if len(matches) == MAX_MATCHES:
            break
    return {"matched": bool(matches), "count": len(matches), "matches": matches}


def described(match):
    """A match as the outputs show it: the matched text, its groups, its named fields."""
    if match is None:
        return {"match": "", "groups": [], "fields": {}}
    return {"match": match.group(0), "groups": list(match.groups()), "fields": match.groupdict()}


def parsed_json(value):
    if isinstance(value, (dict, list)):
        return value  # a template that gave the parsed value already
    text = to_text(value).strip()
    if not text:
        raise ActionError("There is no JSON to parse: the text is empty.")
    try:
        return parse_json(text)
    except JSONInputError as exc:
        raise ActionError(f"The text is not valid JSON: {exc.message}") from None


def parsed_query(value):
    """A query string (`a=1&b=2&b=3`, a leading ? allowed) as an object: a field given
    once is a text, a field given several times a list."""
    if isinstance(value, dict):
        return value
    text = to_text(value).strip().removeprefix("?")
    try:
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        raise ActionError(f"The query string has over {MAX_QUERY_FIELDS} fields.") from None
    return {key: values[0] if len(values) == 1 else values for key, values in fields.items()}
