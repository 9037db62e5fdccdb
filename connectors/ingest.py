"""Turning an incoming webhook request into one JSON object, or a clear error."""

from django.conf import settings
from django.http import QueryDict
from django.http.request import HttpHeaders

from picky.json_input import (
    JSONInputError,
    check_storable,
    check_text,
    decode_json,
    json_surely_storable,
)
from picky.request_body import read_body

JSON_TYPES = ("application/json", "text/json")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Senders that post JSON with a text type are common; we try JSON for these.
TEXT_TYPES = ("text/plain", "")


class IngestError(Exception):
    """A webhook refused with `status`; JSONInputError (status 400), raised by the JSON
    sanitiser, is refused the same way."""

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


def parse_request(request):
    """Parse query string and body into one JSON object; raise IngestError (or
    JSONInputError, or BodyError from reading the body) when bad."""
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
        except JSONInputError as exc:
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


IDEMPOTENCY_KEY_MAX_LENGTH = 255


def header(request, name):
    """The request's header `name` (any case), or None. Read from the WSGI environ: the
    ingest reads a few headers, and `request.headers` would first copy every one."""
    return request.META.get(HttpHeaders.to_wsgi_name(name))


def idempotency_key(request):
    """The delivery's idempotency key: the first configured header present, or "".
    Raises IngestError or JSONInputError."""
    for name in settings.PICKY_IDEMPOTENCY_HEADERS:
        value = (header(request, name) or "").strip()
        if not value:
            continue
        check_text(value, f"The {name} header")
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
