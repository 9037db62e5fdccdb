"""The channel webhook: provider handshakes, inbound messages and status callbacks."""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from picky.json_input import JSONInputError, check_storable, parse_json
from picky.request_body import BodyError, read_body

from .channels import WebhookError, adapter_for
from .inbound import accept_webhook
from .models import Channel


def error(status, code, message):
    return JsonResponse({"status": "error", "error": code, "message": message}, status=status)


@csrf_exempt
def channel_webhook(request, token):
    channel = Channel.objects.select_related("project").filter(token=token).first()
    if channel is None:
        return error(404, "unknown_channel", "No channel has this webhook URL.")
    if not channel.enabled:
        return error(410, "channel_disabled", "This channel is disabled.")
    adapter = adapter_for(channel)
    if request.method == "GET":
        if "hub.mode" not in request.GET:
            return error(
                400, "not_a_handshake", "Send messages and statuses with POST; GET only answers "
                "the hub.mode=subscribe handshake."
            )  # fmt: skip
        challenge = adapter.verify_subscription(request.GET)
        if challenge is None:
            return error(403, "bad_verify_token", "The verify token does not match the channel's.")
        return HttpResponse(challenge, content_type="text/plain")
    if request.method != "POST":
        response = error(405, "method_not_allowed", "Use POST (or GET for the handshake).")
        response["Allow"] = "GET, POST"
        return response
    try:
        body = read_body(request)
    except BodyError as exc:
        return error(exc.status, exc.code, exc.message)
    if not adapter.check_signature(body, request.headers):
        return error(
            403,
            "bad_signature",
            "The webhook's signature (X-Hub-Signature-256 or X-Webhook-Hmac) does not match "
            "the body.",
        )
    try:
        data = parse_body(request, body)
        accepted = accept_webhook(channel, data)
    except WebhookError as exc:
        return error(400, "bad_webhook", str(exc))
    answer = {"messages": accepted.messages, "statuses": accepted.statuses}
    if accepted.delivery_id is None:
        return JsonResponse({"status": "ok", **answer})
    # Stored; a worker stores its messages and applies its statuses.
    return JsonResponse({"status": "accepted", "delivery": accepted.delivery_id, **answer})


def parse_body(request, body):
    """The body as a JSON object, read and checked by the JSON sanitiser (what the
    database cannot store is refused here, with where it is)."""
    try:
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            data = {key: request.POST.get(key) for key in request.POST}
            check_storable(data)
            return data
        data = parse_json(body or b"null")
    except JSONInputError as exc:
        raise WebhookError(exc.message) from exc
    if not isinstance(data, dict):
        raise WebhookError("The body must be a JSON object.")
    return data
