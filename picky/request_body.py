"""The one reader of a request's raw body, for every view that reads one (the connector
ingest, the channel webhooks): sent with a Content-Length or chunked, bounded by
PICKY_MAX_PAYLOAD_BYTES, and a clear error when it is too large, short or stalled."""

import io

from django.conf import settings
from gunicorn.http.errors import ParseException

# Read in pieces, so that what arrived before a stall is kept for the error's log.
READ_PIECE_BYTES = 64 * 1024


class BodyError(Exception):
    """A body that cannot be read: the `status` and `code` to answer, and a `message`
    that tells the sender what was wrong."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def read_body(request):
    """The request's body as bytes, or BodyError.

    Django reads a body by its Content-Length only, so a chunked one (Transfer-Encoding:
    chunked, no Content-Length) read as empty. A server that marks where a body ends
    (`wsgi.input_terminated`, as gunicorn does) is read to that end here, one byte past
    the limit at most. What was read, even before an error, is put back on the request:
    `request.body`, `request.POST` (forms, multipart) and a rejected event's log see it.
    """
    if hasattr(request, "_body"):
        return request._body
    limit = settings.PICKY_MAX_PAYLOAD_BYTES
    length = declared_length(request)
    if length is not None and length > limit:
        raise too_large(limit)
    if length is not None:
        stream, wanted = request, length
    elif request.META.get("wsgi.input_terminated"):
        stream, wanted = request.META["wsgi.input"], limit + 1
    elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        raise BodyError(
            411, "length_required", "This server cannot read a chunked body; send a Content-Length."
        )
    else:
        return keep(request, b"")
    pieces, received = [], 0
    try:
        while received < wanted:
            piece = stream.read(min(READ_PIECE_BYTES, wanted - received))
            if not piece:
                break
            pieces.append(piece)
            received += len(piece)
    except ParseException as exc:
        keep(request, b"".join(pieces))
        raise BodyError(400, "malformed_body", f"The chunked body is malformed: {exc}.") from exc
    except OSError as exc:
        # The client left, or a chunked body stalled until PICKY_REQUEST_READ_SECONDS.
        keep(request, b"".join(pieces))
        raise stalled(length) from exc
    body = keep(request, b"".join(pieces))
    if length is not None and received < length:
        raise BodyError(
            400,
            "incomplete_body",
            f"The body stopped after {received} of the {length} bytes its Content-Length "
            f"announced: all of it must arrive within {settings.PICKY_REQUEST_READ_SECONDS:g} s.",
        )
    if received > limit:
        raise too_large(limit)
    return body


def declared_length(request):
    """The Content-Length, or None without one."""
    value = request.META.get("CONTENT_LENGTH") or ""
    if not value:
        return None
    if not value.isdigit():
        raise BodyError(
            400, "invalid_content_length", f"The Content-Length {value[:40]!r} is not a number."
        )
    return int(value)


def keep(request, body):
    """Put `body` back on the request, as Django does once it has read one."""
    request._body = body
    request._stream = io.BytesIO(body)
    request.META["CONTENT_LENGTH"] = str(len(body))
    return body


def too_large(limit):
    return BodyError(413, "payload_too_large", f"The body is over the limit of {limit} bytes.")


def stalled(length):
    announced = f" ({length} bytes, by its Content-Length)" if length is not None else ""
    return BodyError(
        400,
        "incomplete_body",
        f"The body did not arrive in full{announced}: all of it must arrive within "
        f"{settings.PICKY_REQUEST_READ_SECONDS:g} s.",
    )
