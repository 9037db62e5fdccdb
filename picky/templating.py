"""`{{ path }}` templates over a context of namespaces; paths are JMESPath.

A missing path renders as an empty string; objects and lists render as JSON.
Compiled expressions and parsed templates are cached, and nothing here ever
executes user code.
"""

import json
import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

import jmespath
from jmespath.exceptions import JMESPathError

HOLE = re.compile(r"{{\s*(.*?)\s*}}", re.DOTALL)


class TemplateSyntaxError(ValueError):
    """A hole whose path is not a valid JMESPath expression."""


@lru_cache(maxsize=4096)
def compile_path(path):
    try:
        return jmespath.compile(path)
    except JMESPathError as exc:
        raise TemplateSyntaxError(f"Invalid path {path!r}: {exc}") from exc


@lru_cache(maxsize=4096)
def parse_template(template):
    """Split a template into literal text and compiled paths, alternating."""
    parts = []
    last = 0
    for match in HOLE.finditer(template):
        parts.append(template[last : match.start()])
        parts.append(compile_path(match.group(1)))
        last = match.end()
    parts.append(template[last:])
    return tuple(parts)


def resolve(path, context):
    """The value at a JMESPath `path` in `context`, or None when missing."""
    try:
        return compile_path(path).search(context)
    except JMESPathError:
        return None


def to_text(value):
    """A value as text wherever one is put into text: templates, HTTP headers and bodies,
    identifiers. None is empty, objects and lists are JSON, and a whole number that came
    as a float reads as the user knows it (3.0 is "3"); inside objects and lists, JSON's."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _search(expression, context):
    try:
        return expression.search(context)
    except JMESPathError:
        # Runtime errors (a function applied to the wrong type) are "missing".
        return None


def render(template, context):
    """Render a template to text."""
    if not isinstance(template, str) or "{{" not in template:
        return template if isinstance(template, str) else to_text(template)
    parts = parse_template(template)
    out = []
    for i, part in enumerate(parts):
        out.append(part if i % 2 == 0 else to_text(_search(part, context)))
    return "".join(out)


def render_value(template, context):
    """Like render, but a template that is exactly one hole keeps the value's type."""
    if isinstance(template, str) and "{{" in template:
        parts = parse_template(template)
        if len(parts) == 3 and parts[0] == "" and parts[2] == "":
            return _search(parts[1], context)
    return render(template, context)


def render_deep(value, context):
    """Render every string inside a JSON-like structure (keys included)."""
    if isinstance(value, str):
        return render_value(value, context)
    if isinstance(value, dict):
        return {render(k, context): render_deep(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_deep(v, context) for v in value]
    return value


def empty_holes(template, context):
    """The holes of `template` (as `{{ path }}`) whose value is missing or empty text."""
    if not isinstance(template, str):
        return []
    return [
        f"{{{{ {match.group(1)} }}}}"
        for match in HOLE.finditer(template)
        if to_text(_search(compile_path(match.group(1)), context)) == ""
    ]


def template_errors(template):
    """Syntax errors in a template (empty list when valid), for form validation."""
    if not isinstance(template, str):
        return []
    errors = []
    for match in HOLE.finditer(template):
        try:
            compile_path(match.group(1))
        except TemplateSyntaxError as exc:
            errors.append(str(exc))
    return errors
