import logging

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from picky.json_input import JSONInputError
from picky.net import client_ip
from picky.request_body import BodyError

from . import services
from .ingest import IngestError, idempotency_key, kept_headers, parse_request

ALLOWED_METHODS = ("GET", "POST")
RETRY_AFTER_SECONDS = 5

logger = logging.getLogger(__name__)


def error_response(status, code, message, event=None):
    body = {"status": "rejected", "error": code, "message": message}
    if event is not None:
        body["event"] = str(event.pk)
    return JsonResponse(body, status=status)


@csrf_exempt
def ingest(request, token):
    """The connector URL: accept a webhook as one Event row, then answer.

    Without a database nothing can be accepted: the sender gets a 503 to retry
    (senders retry 5xx answers), never a 200 for an event that was not stored.
    """
    try:
        return receive(request, token)
    except (OperationalError, InterfaceError):
        logger.exception("Database unavailable; webhook for a connector refused with 503")
        response = error_response(
            503, "unavailable", "The webhook cannot be stored right now; send it again later."
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


def receive(request, token):
    meta = {
        "method": request.method,
        "headers": kept_headers(request),
        "source_ip": client_ip(request),
    }
    if request.method in ALLOWED_METHODS:
        try:
            key = idempotency_key(request)
            payload = parse_request(request)
        except (IngestError, JSONInputError, BodyError) as problem:
            return refuse(request, services.connector_for_ingest(token), meta, problem)
        try:
            connector, event_id = services.accept_event(token, payload, idempotency_key=key, **meta)
        except services.DuplicateDelivery as duplicate:
            return JsonResponse(
                {"status": "accepted", "event": str(duplicate.original.pk), "duplicate": True}
            )
        if event_id is not None:
            return JsonResponse({"status": "accepted", "event": str(event_id)})
        return refuse(request, connector, meta)
    problem = IngestError(
        405,
        "method_not_allowed",
        f"Method {request.method} is not allowed; send the webhook with GET or POST.",
    )
    return refuse(request, services.connector_for_ingest(token), meta, problem)


def refuse(request, connector, meta, problem=None):
    """The answer to a webhook that is not accepted: the connector is unknown, else
    disabled, else `problem` (an IngestError, a JSONInputError or a BodyError). What a
    known connector was sent is kept as a rejected event, so that its user can see why."""
    if connector is None:
        return error_response(404, "unknown_connector", "No connector has this URL.")
    if not connector.enabled:
        problem = IngestError(410, "connector_disabled", "This connector is disabled.")
    event = services.record_rejected_event(
        connector, raw_body=_raw(request), reason=problem.message, **meta
    )
    response = error_response(problem.status, problem.code, problem.message, event)
    if problem.code == "method_not_allowed":
        response["Allow"] = ", ".join(ALLOWED_METHODS)
    return response


def _raw(request):
    """The body (its start, when too large) as text for a rejected event's log."""
    try:
        body = request.body[: services.REJECTED_BODY_KEPT_BYTES]
    except RequestDataTooBig:
        # Django refused to buffer it; the stream is still unread.
        body = request.read(services.REJECTED_BODY_KEPT_BYTES)
    return body.decode("utf-8", errors="replace")
