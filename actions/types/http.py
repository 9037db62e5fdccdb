"""HTTP actions: http_request, the way a non-developer calls any API.

The request goes through picky.outbound (timeout cap, size cap, SSRF guard, the project's
rate limit). Outputs `{status, ok, response, text, duration_ms}` are saved under
`vars.<save_as>`; a network error, a timeout or a non-2xx answer fails the action (the
engine then applies `fallback`) and counts towards the throttled alert mail.
"""

import json
import re
from urllib.parse import parse_qsl, urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.urls import reverse

from picky import outbound
from picky.json_input import JSONInputError, decode_json
from picky.secret_values import MaskedKeysMixin
from picky.templating import HOLE, to_text

from .. import http_services
from ..base import ActionConfigForm, ActionError, ActionType, Effect, Result, not_sent
from ..registry import register
from .fields import JSONValueField, RowsInput, TemplatedEmailListField

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
BODY_TYPES = [
    ("none", "No body"),
    ("json", "JSON (key/values or a JSON document)"),
    ("query", "Form / query string"),
    ("raw", "Raw text with a content type"),
]
FALLBACKS = [
    ("stop", "Stop executing further steps"),
    ("continue", "Continue further steps"),
]
# Methods whose "query" body goes into the query string rather than a form body.
QUERY_METHODS = {"GET", "HEAD", "DELETE", "OPTIONS"}
# Methods a simulation may send for real when asked: they only read.
SAFE_METHODS = {"GET", "HEAD"}
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_TIMEOUT = 30


class KeyValueField(JSONValueField):
    """Key/value pairs: an object, a list of {"key", "value"} pairs, or "Name: value" lines.

    Cleaned to an object of text values, so the config has one shape.
    """

    rows = "map"

    def __init__(self, *, separator=":", **kwargs):
        self.separator = separator
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in (None, "", [], {}):
            return {}
        if isinstance(value, str):
            try:
                value = decode_json(value)
            except JSONInputError:
                return self.from_lines(value)
        if isinstance(value, dict):
            return {str(key).strip(): to_text(item) for key, item in value.items()}
        if isinstance(value, list):
            pairs = {}
            for number, item in enumerate(value, start=1):
                if isinstance(item, dict) and "key" in item:
                    pairs[str(item["key"]).strip()] = to_text(item.get("value"))
                elif isinstance(item, (list, tuple)) and len(item) == 2:
                    pairs[str(item[0]).strip()] = to_text(item[1])
                else:
                    raise ValidationError(
                        f'Item {number} is not a pair: use {{"key": ..., "value": ...}}.'
                    )
            return pairs
        raise ValidationError("Give key/value pairs: an object or a list of pairs.")

    def from_lines(self, text):
        pairs = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            key, found, value = line.partition(self.separator)
            if not found:
                raise ValidationError(
                    f"Line {number} ({line.strip()!r}) is not 'name{self.separator} value'."
                )
            pairs[key.strip()] = value.strip()
        return pairs


class HeadersField(MaskedKeysMixin, KeyValueField):
    """Request headers; the values of secret ones are write-only (picky/secret_values.py)."""


class HttpConfigForm(ActionConfigForm):
    """Settings every HTTP-flavoured action shares: saving, timeout, retries, failures."""

    save_as = forms.CharField(
        required=False,
        max_length=64,
        help_text="Save the outputs as vars.NAME (this name) for later actions.",
    )
    timeout = forms.FloatField(
        required=False,
        min_value=0.1,
        max_value=60,
        help_text=f"Seconds to wait for the answer (at most 60; default {DEFAULT_TIMEOUT}).",
    )
    retries = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=5,
        help_text="Tries again (0 to 5) after a network error, a timeout or a 5xx/429 answer.",
    )
    fallback = forms.ChoiceField(
        choices=FALLBACKS,
        required=False,
        help_text="What the run does when the request fails.",
    )
    alert_emails = TemplatedEmailListField(
        required=False,
        max_items=10,
        help_text="Up to 10 addresses, comma separated; at most one alert mail per hour. "
        "Empty: the project's alert email.",
    )

    def clean_save_as(self):
        name = self.cleaned_data.get("save_as", "").strip()
        if name and not IDENTIFIER.match(name):
            raise ValidationError(
                "Use letters, digits and underscores, not starting with a digit (e.g. crm_lookup)."
            )
        return name


class HttpRequestForm(HttpConfigForm):
    method = forms.ChoiceField(choices=[(m, m) for m in METHODS], required=False)
    url = forms.CharField(
        max_length=4000,
        widget=forms.TextInput(attrs={"class": "vTextField"}),
        help_text="The address to call; templates allowed.",
    )
    headers = HeadersField(
        required=False,
        help_text='Headers as "Name: value" lines or a JSON object. Saved values of secret '
        "headers (Authorization, X-Api-Key, *token*, ...) show as a mask: leave it to keep "
        "one, type a new value to replace it.",
    )
    forward_headers_on_redirect = forms.BooleanField(
        required=False,
        label="Send the headers on redirects to other sites",
        help_text="Off: when the server redirects to another site (another scheme, host or "
        "port), the headers above are left out, so a key meant for this API never reaches "
        "another. Tick it only when the API redirects to a site of its own that needs them "
        "(Authorization still goes to the same host only).",
    )
    body_type = forms.ChoiceField(choices=BODY_TYPES, required=False)
    body = JSONValueField(
        required=False,
        widget=RowsInput("map", any_json=True),
        help_text="JSON: an object or a JSON document. Form/query: an object or a=1&b=2. "
        "Raw: any text.",
    )
    content_type = forms.CharField(
        required=False, max_length=200, help_text="Content type of a raw body (text/plain)."
    )

    field_order = [
        "method",
        "url",
        "headers",
        "forward_headers_on_redirect",
        "body_type",
        "body",
        "content_type",
        "save_as",
        "timeout",
        "retries",
        "fallback",
        "alert_emails",
    ]

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        if "{{" in url:
            if not url.lower().startswith(("http://", "https://", "{{")):
                raise ValidationError("Start the URL with http:// or https:// (or a template).")
            return url
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError as exc:
            raise ValidationError(f"{url!r} is not a valid http(s) URL.") from exc
        return url

    def clean_forward_headers_on_redirect(self):
        # Saved only when ticked: the configs of actions that leave it off stay as they were.
        return self.cleaned_data.get("forward_headers_on_redirect") or None

    def clean_headers(self):
        headers = self.cleaned_data.get("headers") or {}
        for name in headers:
            if "{{" not in name and not HEADER_NAME.match(name):
                raise ValidationError(f"{name!r} is not a valid header name.")
        return headers

    def clean(self):
        cleaned = super().clean()
        body_type = cleaned.get("body_type") or "none"
        body = cleaned.get("body")
        if body_type == "none":
            if body not in (None, "", {}, []):
                self.add_error("body", "Choose a body type, or leave the body empty.")
        elif body_type == "json" and isinstance(body, str) and not HOLE.search(body):
            try:
                decode_json(body)
            except JSONInputError as exc:
                self.add_error("body", exc.message)
        elif body_type == "query" and not isinstance(body, (dict, str, type(None))):
            self.add_error("body", "Give an object of key/values or a text like a=1&b=2.")
        return cleaned


class OutboundActionType(ActionType):
    """An action that sends one HTTP request through picky.outbound (with retries).

    Subclasses build the request (`build_call`) and read the answer (`outputs_of`, which
    raises ActionError for a failed one). Every failure is counted for the alert mail.
    """

    effect = Effect.OUTSIDE
    # Whether a successful JSON answer maps `vars.<save_as>.response` paths.
    maps_response = False
    # Seconds a request waits for its answer when the action does not say.
    default_timeout = DEFAULT_TIMEOUT

    def build_call(self, ctx, inputs):
        raise NotImplementedError

    def effect_seconds(self, inputs):
        return http_services.longest_perform_seconds(
            float(inputs.get("timeout") or self.default_timeout),
            int(inputs.get("retries") or 0),
        )

    def outcome_lost(self, inputs):
        return (
            f"The request to {self.destination(inputs)} was sent but its answer was lost "
            "(the worker stopped); it was not sent again."
        )

    def destination(self, inputs):
        """Whom the request of (logged) `inputs` goes to, for messages."""
        return self.label

    def outputs_of(self, ctx, call, response):
        raise NotImplementedError

    def simulated_outputs(self, ctx, call):
        """The outputs later actions read when the request is not sent in a simulation."""
        raise NotImplementedError

    def dry_run(self, ctx, inputs):
        """The request as it would be sent, not sent; with the simulation's "Run safe
        requests for real" a GET or HEAD is sent through the same client, once, and its
        real answer or error shown."""
        call = self.build_call(ctx, inputs)
        request = http_services.shown_call(call)
        if not (ctx.sends_safe_requests and call.method in SAFE_METHODS):
            return not_sent(self.simulated_outputs(ctx, call), **request)
        try:
            response = http_services.perform(ctx.project, call, deadline=ctx.deadline)
        except outbound.OutboundError as exc:
            raise ActionError(exc.message, permanent=not exc.retryable) from exc
        return Result(
            outputs=self.outputs_of(ctx, call, response), simulation={"sent": True, **request}
        )

    def run(self, ctx, inputs):
        try:
            call = self.build_call(ctx, inputs)
            response = http_services.perform(
                ctx.project,
                call,
                action=ctx.action,
                run=ctx.run,
                retries=int(inputs.get("retries") or 0),
                deadline=ctx.deadline,
            )
            outputs = self.outputs_of(ctx, call, response)
        except ActionError as exc:
            self.record_failure(ctx, inputs, exc.message)
            raise
        except outbound.OutboundError as exc:
            self.record_failure(ctx, inputs, exc.message)
            raise ActionError(exc.message, permanent=not exc.retryable) from exc
        return Result(outputs=outputs)

    def record_failure(self, ctx, inputs, message):
        valid, _ = TemplatedEmailListField.rendered_addresses(inputs.get("alert_emails") or [])
        http_services.record_failure(ctx, self.label, message, valid)


def failed_response(message, response):
    """The ActionError of a non-2xx answer: transient for 5xx and 429."""
    transient = response.status in http_services.RETRY_STATUSES
    return ActionError(message, permanent=not transient)


@register("http_request")
class HttpRequest(OutboundActionType):
    label = "HTTP Request"
    category = "Notification"
    description = (
        "Call any API: look a contact up in a CRM, send an SMS, check a payment. The answer is "
        "saved as vars.NAME (NAME is Save as): status, ok, response (the JSON), text and "
        "duration_ms."
    )
    form_class = HttpRequestForm
    maps_response = True
    literal_fields = (
        "method",
        "forward_headers_on_redirect",
        "body_type",
        "save_as",
        "timeout",
        "retries",
        "fallback",
    )

    def destination(self, inputs):
        return urlsplit(str(inputs.get("url") or "")).hostname or "the URL"

    def loggable(self, inputs):
        masked = dict(inputs)
        if masked.get("headers"):
            masked["headers"] = http_services.mask_headers(masked["headers"])
        if masked.get("url"):
            masked["url"] = http_services.mask_url(str(masked["url"]))
        return masked

    def build_call(self, ctx, inputs):
        """The OutboundCall of rendered `inputs`; ActionError when they do not make one."""
        method = (inputs.get("method") or "GET").upper()
        call = http_services.OutboundCall(
            method=method,
            url=str(inputs.get("url") or "").strip(),
            headers={str(k): to_text(v) for k, v in (inputs.get("headers") or {}).items()},
            timeout=float(inputs.get("timeout") or DEFAULT_TIMEOUT),
            forward_headers_on_redirect=bool(inputs.get("forward_headers_on_redirect")),
            url_template=str((ctx.action.config or {}).get("url") or "") if ctx.action else "",
            context=ctx.data,
        )
        body_type = inputs.get("body_type") or "none"
        body = inputs.get("body")
        if body_type == "json":
            call.json_body = json_body(body)
        elif body_type == "query":
            pairs = query_pairs(body)
            if method in QUERY_METHODS:
                call.params = pairs
            else:
                call.data = pairs
        elif body_type == "raw":
            call.data = to_text(body).encode("utf-8")
            if not any(name.lower() == "content-type" for name in call.headers):
                call.headers["Content-Type"] = inputs.get("content_type") or "text/plain"
        return call

    def outputs_of(self, ctx, call, response):
        if not response.ok:
            snippet = http_services.body_snippet(response)
            shown = outbound.shown_url(call.logged_url())
            message = f"HTTP {response.status} from {call.method} {shown}"
            raise failed_response(message + (f": {snippet}" if snippet else ""), response)
        is_json, value = http_services.parsed_json(response)
        if ctx.action is not None and ctx.action.pk and not ctx.dry_run:
            http_services.note_response(ctx.action, is_json, value)
        return {
            "status": response.status,
            "ok": response.ok,
            "response": value,
            "text": response.text,
            "duration_ms": response.duration_ms,
        }

    def simulated_outputs(self, ctx, call):
        """No status, as none was received; the mapped response, so that later templates
        have values."""
        mapping = http_services.mapping_of(ctx.action) if ctx.action is not None else None
        sample = mapping.sample if mapping is not None and mapping.mapped_at else None
        return {
            "simulated": True,
            "status": None,
            "ok": None,
            "response": sample,
            "text": json.dumps(sample) if sample is not None else "",
            "duration_ms": 0,
        }

    def admin_links(self, action):
        return http_admin_links(action, mapping=True)


def alert_recipients(action):
    """Where the action's alert mail goes: its alert emails, else the project's address."""
    configured = TemplatedEmailListField().to_python((action.config or {}).get("alert_emails"))
    if configured:
        return configured
    project = action.step.connector.project
    return [project.alert_email] if project.alert_email else []


def http_admin_links(action, mapping):
    """The admin buttons of an HTTP-flavoured action (see actions/http_admin.py)."""
    links = [("Test", reverse("http_action_test", args=[action.pk]))]
    if mapping:
        notice = http_services.mapping_notice(http_services.mapping_of(action))
        label = "Remap response" if notice == http_services.MAPPING_CHANGED else "Response mapping"
        url = reverse("http_action_mapping", args=[action.pk])
        links.append((f"{notice}: {label}" if notice else label, url))
    links += [
        ("Request log", reverse("http_action_logs", args=[action.pk])),
        ("Reset Mail Timeout", reverse("http_action_reset_mail", args=[action.pk])),
    ]
    return links


def json_body(body):
    """A JSON body: objects and lists as rendered; text is parsed as a JSON document."""
    if body is None or body == "":
        return {}
    if not isinstance(body, str):
        return body
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ActionError(f"The body is not valid JSON after templating: {exc}.") from exc


def query_pairs(body):
    """Form/query pairs: an object, or a text like a=1&b=2 (decoded, repeated keys kept)."""
    if body in (None, ""):
        return {}
    if isinstance(body, dict):
        return {str(key): to_text(value) for key, value in body.items()}
    return parse_qsl(to_text(body).lstrip("?"), keep_blank_values=True)
