import logging

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from picky.net import client_ip
from picky.rows import select_models

from . import services
from .ingest import IngestError, idempotency_key, kept_headers, parse_request
from .models import Connector

ALLOWED_METHODS = ("GET", "POST")
RETRY_AFTER_SECONDS = 5
# What the ingest needs of a connector, and whether it has a sample without reading the
# sample (up to a megabyte of JSON). Raw SQL: the ORM spends several times longer
# compiling this lookup than the database spends answering it.
LOOKUP_FIELDS = tuple(
    field for field in Connector._meta.concrete_fields if field.name in ("id", "project", "enabled")
)
CONNECTOR_LOOKUP = (
    "SELECT id, project_id, enabled, sample_payload IS NOT NULL "
    f"FROM {Connector._meta.db_table} WHERE token = %s"
)

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
    found = select_models(CONNECTOR_LOOKUP, [token], ((Connector, LOOKUP_FIELDS),))
    if not found:
        return error_response(404, "unknown_connector", "No connector has this URL.")
    connector, has_sample = found[0]
    connector.has_sample = bool(has_sample)
    meta = {
        "method": request.method,
        "headers": kept_headers(request),
        "source_ip": client_ip(request),
    }
    if not connector.enabled:
        event = services.record_rejected_event(
            connector, raw_body=_raw(request), reason="The connector is disabled.", **meta
        )
        return error_response(410, "connector_disabled", "This connector is disabled.", event)
    if request.method not in ALLOWED_METHODS:
        event = services.record_rejected_event(
            connector,
            raw_body=_raw(request),
            reason=f"Method {request.method} is not allowed.",
            **meta,
        )
        response = error_response(
            405, "method_not_allowed", "Send the webhook with GET or POST.", event
        )
        response["Allow"] = ", ".join(ALLOWED_METHODS)
        return response
    try:
        key = idempotency_key(request)
        parsed = parse_request(request)
    except IngestError as exc:
        event = services.record_rejected_event(
            connector, raw_body=_raw(request), reason=exc.message, **meta
        )
        return error_response(exc.status, exc.code, exc.message, event)
    try:
        event = services.record_event(
            connector, parsed.payload, raw_body=parsed.raw_body, idempotency_key=key, **meta
        )
    except services.DuplicateDelivery as duplicate:
        return JsonResponse(
            {"status": "accepted", "event": str(duplicate.original.pk), "duplicate": True}
        )
    return JsonResponse({"status": "accepted", "event": str(event.pk)})


def _raw(request):
    """The body (its start, when too large) as text for a rejected event's log."""
    try:
        body = request.body[: services.REJECTED_BODY_KEPT_BYTES]
    except RequestDataTooBig:
        # Django refused to buffer it; the stream is still unread.
        body = request.read(services.REJECTED_BODY_KEPT_BYTES)
    return body.decode("utf-8", errors="replace")
