"""POST /api/v2/push: the Push API, compatible with Picky Assist's v2 format, so an existing
client works by changing only its base URL (the service is teambox/push.py).

What real clients send is taken as it comes: a JSON body whatever its content type, or
`?data=<URL-encoded JSON>` (the "normal POST" of tools that cannot send a body), keys with
stray spaces ("priority "), numbers where text is expected (`"application": 8`), and the
API token in the body (`token`) or a Bearer header. Every answer is the documented
`{"status", "message", ...}` object: 100 is success, anything else a failure.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from picky.api_auth import ApiTokenAuthentication, IpNotAllowed, token_user
from picky.json_input import JSONInputError, parse_json
from picky.request_body import BodyError, read_body

from .push import APPLICATION_NAMES, PushCall, PushError, PushStatus, push_messages, text_of

# Entries of `data` in one call; more go in further calls.
MAX_NUMBERS = 1000
HTTP_STATUS = {
    PushStatus.INVALID_TOKEN: 401,
    PushStatus.IP_NOT_ALLOWED: 403,
    PushStatus.RATE_LIMITED: 429,
}
FORM_CONTENT_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


# Reading the call ------------------------------------------------------------------


def push_body(request):
    """The call as a JSON object with its keys (and its entries' keys) stripped, read once
    per request. Raises BodyError, JSONInputError or PushError."""
    django_request = request._request
    if hasattr(django_request, "push_body"):
        return django_request.push_body
    body = read_body(django_request)
    text = django_request.GET.get("data")
    if text is None and sent_as_form(django_request, body):
        text = django_request.POST.get("data")
    if text is None:
        text = body
    if not text.strip():
        raise PushError(
            PushStatus.INVALID_BODY,
            "The body is empty: send the call as a JSON object, or as ?data=<URL-encoded JSON>.",
        )
    value = parse_json(text)
    if not isinstance(value, dict):
        raise PushError(PushStatus.INVALID_BODY, "Send the call as one JSON object.")
    value = stripped_keys(value)
    if isinstance(value.get("data"), list):
        value["data"] = [stripped_keys(entry) if isinstance(entry, dict) else entry
                         for entry in value["data"]]  # fmt: skip
    django_request.push_body = value
    return value


def sent_as_form(request, body):
    """A form body (data=<JSON>); a JSON body sent with the form content type is JSON."""
    return request.content_type in FORM_CONTENT_TYPES and not body.lstrip().startswith(b"{")


def stripped_keys(value):
    return {key.strip(): item for key, item in value.items()}


class PushTokenAuthentication(ApiTokenAuthentication):
    """The API token in the body's `token`, as Picky Assist clients send it, or a Bearer
    header. The project's API rate limit (the default throttle) counts what it lets in."""

    def authenticate(self, request):
        raw = text_of(push_body(request).get("token"))
        if not raw:
            return super().authenticate(request)
        return token_user(raw, request)


class PushTokenScheme(OpenApiAuthenticationExtension):
    """The schema's word on the Push API's token: the body's `token`, or this header."""

    target_class = "teambox.api_push.PushTokenAuthentication"
    name = "PushApiToken"

    def get_security_definition(self, auto_schema):
        definition = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer"
        )
        definition["description"] = 'The API token: as "token" in the body, or this header.'
        return definition


# The call's shape (validation and the OpenAPI schema) --------------------------------


ENTRY_SCHEMA = {
    "type": "object",
    "required": ["number"],
    "properties": {
        "number": {
            "type": "string",
            "description": "Digits with the country code, without + or leading zeros.",
            "example": "919847012345",
        },
        "message": {"type": "string", "description": "This number's text (or caption)."},
        "media-url": {"type": "string", "description": "This number's media (a public URL)."},
        "template_message": {
            "type": "array",
            "items": {"type": "string"},
            "description": "This number's template values, {{1}} first.",
        },
        "reference_number": {"type": "string", "description": "Your reference of it."},
    },
}


@extend_schema_field({"type": "array", "items": ENTRY_SCHEMA, "minItems": 1})
class EntriesField(serializers.ListField):
    """The entries as sent: each is read on its own, so one bad entry fails alone."""

    child = serializers.DictField()


def optional_text(max_length=None, **kwargs):
    return serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=max_length, **kwargs
    )


class PushRequestSerializer(serializers.Serializer):
    token = optional_text(
        write_only=True, help_text="Your API token (or send 'Authorization: Bearer <token>')."
    )
    application = serializers.CharField(
        help_text="The channel: an application code ("
        + ", ".join(f"{code} {name}" for code, name in APPLICATION_NAMES.items())
        + "), or a channel's own number or id. A number or a string."
    )
    globalmessage = optional_text(help_text="The text for every entry without its own.")
    globalmedia = optional_text(help_text="A media URL for every entry without its own.")
    priority = serializers.ChoiceField(
        choices=["0", "1"],
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="0 low (default), 1 high; accepted for compatibility, messages go out in order.",
    )
    template_id = optional_text(max_length=200, help_text="A WhatsApp template's name.")
    language = optional_text(max_length=20, help_text="The template's language, e.g. en.")
    template_message = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="The template's values for every entry without its own, {{1}} first.",
    )
    reference_number = optional_text(
        max_length=100, help_text="Your reference, given back in delivery reports."
    )
    data = EntriesField(min_length=1, max_length=MAX_NUMBERS)

    def call(self):
        values = self.validated_data
        return PushCall(
            application=values["application"],
            data=values["data"],
            globalmessage=values.get("globalmessage") or "",
            globalmedia=(values.get("globalmedia") or "").strip(),
            template_id=values.get("template_id") or "",
            language=values.get("language") or "",
            template_message=values.get("template_message") or [],
            reference_number=values.get("reference_number") or "",
        )


class PushItemSerializer(serializers.Serializer):
    msg_id = serializers.CharField(allow_null=True, help_text="The message's id; null: not sent.")
    number = serializers.CharField(allow_null=True)
    status = serializers.IntegerField(help_text="100: queued; otherwise why not.")
    message = serializers.CharField()


class PushAnswerSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="100: success; anything else is a failure.")
    push_id = serializers.CharField(help_text="This call's id, in every delivery report.")
    message = serializers.CharField()
    channel = serializers.CharField(help_text="The channel the application named.")
    data = PushItemSerializer(many=True)


class PushRefusalSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    message = serializers.CharField()


def errors_text(errors, where=""):
    """A serializer's errors as one sentence per field: `data[2]: Expected a dictionary`."""
    if isinstance(errors, dict):
        return " ".join(errors_text(value, place(where, key)) for key, value in errors.items())
    if errors and not isinstance(errors[0], str):
        return " ".join(errors_text(item, where) for item in errors if item)
    return f"{where}: {' '.join(str(error) for error in errors)}"


def place(where, key):
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else str(key)


# The view ------------------------------------------------------------------------------


def refusal(status, message, http_status=None):
    return Response(
        {"status": int(status), "message": message},
        status=http_status or HTTP_STATUS.get(status, 400),
    )


DYNAMIC_PUSH = {
    "token": "pk_your_api_token",
    "priority ": "0",
    "application": "919737001155",
    "globalmessage": "",
    "globalmedia": "",
    "data": [
        {"number": "919847012345", "message": "Your bill of ₹450 is due on the 5th."},
        {"number": "919847054321", "message": "Your bill of ₹120 is due on the 9th."},
    ],
}
TEMPLATE_PUSH = {
    "token": "pk_your_api_token",
    "application": 8,
    "template_id": "order_confirmation",
    "language": "en",
    "data": [{"number": "919847012345", "template_message": ["A-1042", "₹450", "Friday"]}],
}


@extend_schema(
    tags=["push"],
    summary="Send messages (Picky Assist Push API v2)",
    description=(
        "One call sends to many numbers, each with its own message or the global one. "
        "JSON whatever the content type, or ?data=<URL-encoded JSON>. Status codes: "
        + ", ".join(f"{status.value} {status.name.lower()}" for status in PushStatus)
        + "."
    ),
    request=PushRequestSerializer,
    responses={
        200: PushAnswerSerializer,
        400: OpenApiResponse(PushAnswerSerializer, description="No message was queued."),
        401: OpenApiResponse(PushRefusalSerializer, description="Status 101: no or bad token."),
        403: OpenApiResponse(PushRefusalSerializer, description="Status 102: IP not allowed."),
        429: OpenApiResponse(PushRefusalSerializer, description="Status 109: over the limit."),
    },
    examples=[
        OpenApiExample("Dynamic push", value=DYNAMIC_PUSH, request_only=True),
        OpenApiExample("WhatsApp template", value=TEMPLATE_PUSH, request_only=True),
    ],
)
class PushView(APIView):
    """POST /api/v2/push."""

    authentication_classes = [PushTokenAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    # The body is read by push_body whatever its content type.
    parser_classes = []
    http_method_names = ["post"]

    def initial(self, request, *args, **kwargs):
        # Before the token is read from the body: a GET has none to read.
        if request.method.lower() not in self.http_method_names:
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    def post(self, request):
        serializer = PushRequestSerializer(data=push_body(request))
        if not serializer.is_valid():
            raise PushError(PushStatus.INVALID_FIELD, errors_text(serializer.errors))
        push, items = push_messages(request.user.project, serializer.call(), request.auth)
        answer = {"status": PushStatus.SUCCESS, "push_id": str(push.pk), "message": "Success",
                  "channel": push.channel.name, "data": items}  # fmt: skip
        if push.queued:
            return Response(answer)
        first = items[0]
        answer.update(status=first["status"], message=f"Nothing was sent: {first['message']}")
        return Response(answer, status=400)

    def handle_exception(self, exc):
        if isinstance(exc, PushError):
            return refusal(exc.status, exc.message)
        if isinstance(exc, BodyError):
            return refusal(PushStatus.INVALID_BODY, exc.message, exc.status)
        if isinstance(exc, JSONInputError):
            return refusal(PushStatus.INVALID_BODY, exc.message)
        if isinstance(exc, IpNotAllowed):
            return refusal(PushStatus.IP_NOT_ALLOWED, str(exc.detail))
        if isinstance(exc, exceptions.NotAuthenticated):
            return refusal(
                PushStatus.INVALID_TOKEN,
                'No API token: send it as "token" in the body (or an '
                "'Authorization: Bearer <token>' header).",
            )
        if isinstance(exc, exceptions.AuthenticationFailed):
            return refusal(PushStatus.INVALID_TOKEN, str(exc.detail))
        # Over the rate limit (with Retry-After), a method other than POST (with Allow):
        # DRF's answer keeps its status and headers, in the documented shape.
        response = super().handle_exception(exc)
        limited = isinstance(exc, exceptions.Throttled)
        status = PushStatus.RATE_LIMITED if limited else PushStatus.INVALID_FIELD
        response.data = {"status": int(status), "message": str(exc.detail)}
        return response
