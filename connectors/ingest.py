"""Turning an incoming webhook request into one JSON object, or a clear error."""

import json
import math
import re

from django.conf import settings
from django.http import QueryDict
from django.http.request import HttpHeaders

from picky.request_body import read_body

JSON_TYPES = ("application/json", "text/json")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Senders that post JSON with a text type are common; we try JSON for these.
TEXT_TYPES = ("text/plain", "")
# Python reads at most this many digits into an int (sys.get_int_max_str_digits()).
MAX_INTEGER_DIGITS = 4300
# Deeper payloads are refused: storing and templating them recurses once per level.
MAX_NESTING = 200
# Text PostgreSQL refuses to store: NUL, and UTF-16 surrogates left unpaired by a \u escape.
UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")


class IngestError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def querydict_to_json(querydict):
    """A QueryDict as a JSON object; repeated keys become lists."""
    result = {}
    for key in querydict:
        values = querydict.getlist(key)
        result[key] = values[0] if len(values) == 1 else values
    return result


def merge_into(target, extra):
    """Merge `extra` into `target`; a key present in both becomes a list of both."""
    for key, value in extra.items():
        if key in target:
            existing = target[key] if isinstance(target[key], list) else [target[key]]
            target[key] = existing + (value if isinstance(value, list) else [value])
        else:
            target[key] = value
    return target


class UnstorableNumber(ValueError):
    """JSON Python would read but no database stores: NaN, infinities, giant integers."""


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


def decode_json(body):
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(
            400, "invalid_encoding", f"The body is not valid UTF-8 (byte {exc.start})."
        ) from exc
    try:
        return json.loads(
            text, parse_constant=refuse_constant, parse_float=finite_float, parse_int=bounded_int
        )
    except UnstorableNumber as exc:
        raise IngestError(400, "unsupported_number", str(exc)) from exc
    except json.JSONDecodeError as exc:
        raise IngestError(
            400,
            "malformed_json",
            f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
        ) from exc
    except RecursionError as exc:
        raise IngestError(
            400, "nested_too_deeply", f"The JSON is nested over {MAX_NESTING} levels deep."
        ) from exc


def parse_request(request):
    """Parse query string and body into one JSON object; raise IngestError (or BodyError
    from reading the body) when bad."""
    body = read_body(request)
    payload = querydict_to_json(request.GET)
    if not body.strip():
        check_storable(payload)
        return payload

    content_type = request.content_type or ""
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        data = decode_json(body)
    elif content_type in FORM_TYPES:
        try:
            data = querydict_to_json(
                request.POST
                if content_type == "multipart/form-data"
                else QueryDict(body, encoding="utf-8")
            )
        except Exception as exc:
            raise IngestError(
                400, "malformed_form", f"The form body cannot be read: {exc}"
            ) from exc
    elif content_type in TEXT_TYPES:
        try:
            data = decode_json(body)
        except IngestError as exc:
            raise IngestError(
                415,
                "unsupported_content_type",
                f"A {content_type or 'body without a Content-Type'} must hold JSON "
                f"({exc.message}) or be sent as application/json or "
                "application/x-www-form-urlencoded.",
            ) from exc
    else:
        raise IngestError(
            415,
            "unsupported_content_type",
            f"Content-Type {content_type!r} is not supported; send application/json, "
            "application/x-www-form-urlencoded or multipart/form-data.",
        )
    if not isinstance(data, dict):
        data = {"data": data}
    if content_type in FORM_TYPES:
        payload = merge_into(payload, data)
        check_storable(payload)
    else:
        check_storable(payload)
        if not json_surely_storable(body):
            check_storable(data)
        # JSON values win over query-string values of the same name.
        payload.update(data)
    return payload


# The \u escapes that decode to what the database cannot store (NUL, lone surrogates);
# may also match an escaped backslash before "u", which only costs the full check.
UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def json_surely_storable(body):
    """Whether a JSON body that parsed is storable, read off its bytes: too few brackets
    to nest MAX_NESTING deep (with the level `data` adds), and no escape of an
    unstorable character (unescaped, NUL is refused by the parser and a surrogate by
    the UTF-8 decoding). When unsure (False), `check_storable` walks the payload."""
    brackets = body.count(b"{") + body.count(b"[")
    return brackets + 1 < MAX_NESTING and not UNSTORABLE_ESCAPE.search(body)


def check_storable(payload):
    """Refuse nesting deeper than MAX_NESTING and text the database cannot store,
    naming where. Iterative, and a path is spelled out only for an error."""
    stack = [(payload, None, 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, (dict, list)) and depth >= MAX_NESTING:
            raise IngestError(
                400,
                "nested_too_deeply",
                f"The JSON is nested over {MAX_NESTING} levels deep (at {spell_path(where)!r}).",
            )
        if isinstance(value, dict):
            for key, child in value.items():
                if UNSTORABLE_CHARACTER.search(key):
                    raise unstorable_text_error(f"The key {spell_path((where, key))!r}")
                stack.append((child, (where, key), depth + 1))
        elif isinstance(value, list):
            stack.extend((child, (where, index), depth + 1) for index, child in enumerate(value))
        elif isinstance(value, str) and UNSTORABLE_CHARACTER.search(value):
            raise unstorable_text_error(f"The value at {spell_path(where)!r}")


def spell_path(where):
    """(parent, key-or-index) links as text: `order.lines[1].sku`."""
    parts = []
    while where is not None:
        where, step = where
        parts.append(f"[{step}]" if isinstance(step, int) else f".{step}")
    return "".join(reversed(parts)).lstrip(".")


def unstorable_text_error(where):
    return IngestError(
        400,
        "unsupported_character",
        f"{where} holds a NUL character or an unpaired UTF-16 surrogate (\\u0000, "
        "\\ud800-\\udfff), which cannot be stored.",
    )


IDEMPOTENCY_KEY_MAX_LENGTH = 255


def header(request, name):
    """The request's header `name` (any case), or None. Read from the WSGI environ: the
    ingest reads a few headers, and `request.headers` would first copy every one."""
    return request.META.get(HttpHeaders.to_wsgi_name(name))


def idempotency_key(request):
    """The delivery's idempotency key: the first configured header present, or ""."""
    for name in settings.PICKY_IDEMPOTENCY_HEADERS:
        value = (header(request, name) or "").strip()
        if not value:
            continue
        if UNSTORABLE_CHARACTER.search(value):
            raise unstorable_text_error(f"The {name} header")
        if len(value) > IDEMPOTENCY_KEY_MAX_LENGTH:
            raise IngestError(
                400,
                "invalid_idempotency_key",
                f"The {name} header is over {IDEMPOTENCY_KEY_MAX_LENGTH} characters.",
            )
        return value
    return ""


def kept_headers(request):
    kept = {}
    for name in settings.PICKY_KEPT_HEADERS:
        value = header(request, name)
        if value is not None:
            kept[name] = value[:500]
    return kept
