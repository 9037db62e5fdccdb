"""Services of the HTTP-flavoured action types (http_request, chatgpt).

Sending with retries (every attempt logged, secrets masked), the last requests of an
action, its response mapping, and its failures counted for the throttled alert mail.
"""

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from requests.exceptions import RequestException
from requests.models import PreparedRequest

from connectors.models import Event
from connectors.services import context_namespaces
from picky import alerts, outbound
from picky.paths import attribute_paths, payload_nodes
from picky.templating import empty_holes

from .base import ActionContext, ActionError
from .models import HttpRequestLog, HttpResponseMapping
from .registry import get_type

KEPT_LOGS = 20
LOGGED_BODY_CHARS = 64 * 1024
MASK = "*****"
SECRET_NAME = re.compile(
    r"auth|token|secret|password|passwd|api[-_]?key|apikey|signature|cookie|session|credential"
    r"|^key$|[-_]key$",
    re.IGNORECASE,
)
# Besides network errors and timeouts, these statuses are worth another try.
RETRY_STATUSES = {429, 500, 502, 503, 504}


@dataclass
class OutboundCall:
    """One request an action wants to send, after templating."""

    method: str
    url: str
    headers: dict = field(default_factory=dict)
    params: dict | None = None
    data: Any = None
    json_body: Any = None
    timeout: float | None = None
    # Whether the headers go to redirects to another origin too (see picky.outbound.send).
    forward_headers_on_redirect: bool = False
    # The URL before templating and the values it was rendered with: a refused URL names
    # the template's paths that had no value.
    url_template: str = ""
    context: dict = field(default_factory=dict, repr=False)

    def logged_url(self):
        """The URL with the query parameters, as sent; as given when it is not valid."""
        try:
            prepared = PreparedRequest()
            prepared.prepare_url(self.url, self.params)
        except RequestException:
            return self.url
        return prepared.url

    def explain(self, error):
        """Name the URL template's paths that had no value in `error`, a refusal of the URL."""
        holes = empty_holes(self.url_template, self.context)
        if not holes:
            return
        named = ", ".join(f"`{hole}`" for hole in holes)
        verb = "has" if len(holes) == 1 else "have"
        error.message = (
            f"{error.message.removesuffix('.')} after templating "
            f"({named} {verb} no value in this event)."
        )
        error.args = (error.message,)

    def logged_body(self):
        if self.json_body is not None:
            return json.dumps(self.json_body, ensure_ascii=False)
        if isinstance(self.data, (dict, list)):
            return urlencode(self.data)
        if isinstance(self.data, bytes):
            return self.data.decode("utf-8", errors="replace")
        return self.data or ""


# Sending ---------------------------------------------------------------------------


def perform(project, call, *, action=None, run=None, trigger="run", retries=0, deadline=None):
    """Send `call` for `project`, retrying network errors, timeouts and 5xx/429 answers (no
    retry that could not end by `deadline`, a time.monotonic() value: the run's).

    Every attempt is logged on `action` (when given). Returns the last OutboundResponse
    (which may be a non-2xx one) or raises the last OutboundError.
    """
    first_started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        started = time.monotonic()
        try:
            response = outbound.send(
                call.method,
                call.url,
                headers=call.headers,
                params=call.params,
                data=call.data,
                json_body=call.json_body,
                timeout=call.timeout,
                project=project,
                forward_headers_on_redirect=call.forward_headers_on_redirect,
            )
        except outbound.OutboundError as exc:
            if isinstance(exc, outbound.InvalidURL):
                call.explain(exc)
            if action is not None:
                elapsed_ms = (time.monotonic() - started) * 1000
                log_request(
                    action,
                    call,
                    run=run,
                    trigger=trigger,
                    attempt=attempt,
                    error=exc,
                    duration_ms=elapsed_ms,
                )
            if exc.retryable and may_retry(attempt, retries, call, first_started, deadline):
                back_off(attempt)
                continue
            raise
        if action is not None:
            log_request(
                action,
                call,
                run=run,
                trigger=trigger,
                attempt=attempt,
                response=response,
                duration_ms=response.duration_ms,
            )
        if response.status in RETRY_STATUSES and may_retry(
            attempt, retries, call, first_started, deadline
        ):
            back_off(attempt)
            continue
        return response


def backoff_seconds(attempt):
    return settings.PICKY_HTTP_RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1)


def may_retry(attempt, retries, call, first_started, deadline=None):
    """Whether another attempt is allowed, fits in half the run's lease and ends by the
    run's `deadline` (a time.monotonic() value; None: no deadline).

    A run must finish its action well within its lease, or the stuck-run sweep would hand it
    to another worker while this one still waits on a slow API; and a run past its time limit
    is stopped, so an attempt ending later would be in vain.
    """
    if attempt > retries:
        return False
    budget = settings.PICKY_RUN_LEASE_SECONDS / 2
    timeout = outbound.capped_timeout(call.timeout)
    now = time.monotonic()
    ends = now + backoff_seconds(attempt) + timeout
    return ends - first_started <= budget and (deadline is None or ends <= deadline)


def longest_perform_seconds(timeout, retries):
    """The longest `perform` may take with this timeout and retries: one attempt, or, with
    retries, as long as may_retry lets them go on."""
    timeout = outbound.capped_timeout(timeout)
    every_attempt = timeout * (retries + 1) + sum(map(backoff_seconds, range(1, retries + 1)))
    return min(every_attempt, max(timeout, settings.PICKY_RUN_LEASE_SECONDS / 2))


def back_off(attempt):
    time.sleep(backoff_seconds(attempt))


def parsed_json(response):
    """(True, value) when the response body is JSON, else (False, None)."""
    looks_json = "json" in response.content_type or response.content.lstrip()[:1] in (b"{", b"[")
    if not looks_json:
        return False, None
    try:
        return True, response.json()
    except ValueError:
        return False, None


def body_snippet(response, limit=300):
    """The start of a response body on one line, for error messages (JSON made compact)."""
    is_json, value = parsed_json(response)
    text = json.dumps(value, ensure_ascii=False) if is_json else " ".join(response.text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Request logs ----------------------------------------------------------------------


def mask_headers(headers):
    return {
        name: (MASK if SECRET_NAME.search(str(name)) and value else value)
        for name, value in (headers or {}).items()
    }


def mask_url(url):
    """The URL with secret-looking query parameters and any password masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return outbound.shown_url(url)  # not parsable: shown without its query
    query = [
        (name, MASK if SECRET_NAME.search(name) and value else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
    return urlunsplit(
        (parts.scheme, netloc, parts.path, urlencode(query, safe="*"), parts.fragment)
    )


def truncated(text, limit=LOGGED_BODY_CHARS):
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more)"


@transaction.atomic
def log_request(action, call, *, run, trigger, attempt, duration_ms, response=None, error=None):
    """Keep this request on `action` (a published copy's: on its draft action, whose pages
    show them), and only its KEPT_LOGS most recent ones."""
    HttpRequestLog.objects.create(
        action_id=action.logged_action_id,
        run=run if run is not None and run.pk else None,
        trigger=trigger,
        attempt=attempt,
        method=call.method.upper(),
        url=mask_url(call.logged_url()),
        request_headers=mask_headers(call.headers),
        request_body=truncated(call.logged_body()),
        status=response.status if response is not None else None,
        response_headers=mask_headers(response.headers) if response is not None else {},
        response_body=truncated(response.text) if response is not None else "",
        duration_ms=round(duration_ms, 1),
        error=error.message if error is not None else "",
    )
    older = HttpRequestLog.objects.filter(action_id=action.logged_action_id).values_list(
        "pk", flat=True
    )
    stale = list(older[KEPT_LOGS:])
    if stale:
        HttpRequestLog.objects.filter(pk__in=stale).delete()


def shown_call(call):
    """`call` as a simulation shows it: its method, URL and headers with secrets masked,
    and its body."""
    return {
        "method": call.method,
        "url": mask_url(call.logged_url()),
        "headers": mask_headers(call.headers),
        "body": call.json_body if call.json_body is not None else call.logged_body(),
    }


def recent_logs(action):
    return HttpRequestLog.objects.filter(action=action)[:KEPT_LOGS]


# Response mapping ------------------------------------------------------------------


def empty_list_paths(value, prefix):
    return {path for path, _, item, _ in payload_nodes(value, prefix) if item == []}


def structure_diff(old, new, prefix="response"):
    """(added, removed) paths of `new` against `old`.

    Arrays are compared through their first element, and an empty array does not count
    as a change of its elements' structure (a contact with no tags yet).
    """
    old_paths, new_paths = set(attribute_paths(old, prefix)), set(attribute_paths(new, prefix))
    old_empty, new_empty = empty_list_paths(old, prefix), empty_list_paths(new, prefix)

    def under(path, lists):
        return any(path.startswith(f"{parent}[0]") for parent in lists)

    added = sorted(p for p in new_paths - old_paths if not under(p, old_empty))
    removed = sorted(p for p in old_paths - new_paths if not under(p, new_empty))
    return added, removed


def mapping_of(action):
    return HttpResponseMapping.objects.filter(action=action).first()


def note_response(action, is_json, value):
    """Map the first successful JSON response; flag later ones whose structure differs."""
    mapping, _ = HttpResponseMapping.objects.get_or_create(action_id=action.logged_action_id)
    if not is_json:
        if mapping.latest_was_json:
            mapping.latest_was_json = False
            mapping.save(update_fields=["latest_was_json", "updated_at"])
        return mapping
    mapping.latest_was_json = True
    if mapping.mapped_at is None:
        mapping.sample, mapping.mapped_at = value, timezone.now()
        mapping.structure_changed, mapping.changed_sample = False, None
    elif structure_diff(mapping.sample, value) != ([], []):
        mapping.structure_changed, mapping.changed_sample = True, value
    mapping.save()
    return mapping


def remap(action):
    """Make the latest differing response the mapped one."""
    mapping = mapping_of(action)
    if mapping is None or not mapping.structure_changed:
        return mapping
    mapping.sample, mapping.mapped_at = mapping.changed_sample, timezone.now()
    mapping.structure_changed, mapping.changed_sample = False, None
    mapping.save()
    return mapping


def mapped_paths(mapping, save_as):
    """The mapped response's paths as `vars.<save_as>.response...` (empty when unmapped)."""
    if mapping is None or mapping.mapped_at is None:
        return []
    prefix = f"vars.{save_as or '<save_as>'}.response"
    return attribute_paths(mapping.sample, prefix=prefix)


def structure_changes(mapping, save_as):
    """(added, removed) paths of the latest differing response against the mapped one."""
    prefix = f"vars.{save_as or '<save_as>'}.response"
    return structure_diff(mapping.sample, mapping.changed_sample, prefix)


MAPPING_NOT_JSON = "Response mapping not done, only JSON can be mapped as response"
MAPPING_CHANGED = "JSON structure change detected"


def mapping_notice(mapping):
    """The notice the admin shows about an action's response mapping, or ""."""
    if mapping is None:
        return ""
    if not mapping.latest_was_json:
        return MAPPING_NOT_JSON
    if mapping.structure_changed:
        return MAPPING_CHANGED
    return ""


# Alerts ----------------------------------------------------------------------------


def alert_source(action):
    return f"action:{action.logged_action_id}"


def action_log_url(action):
    """The absolute URL of the action's last requests, for the alert mail."""
    path = reverse("http_action_logs", args=[action.logged_action_id])
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def record_failure(ctx, label, message, alert_emails=()):
    """Count a failure of the context's action for the throttled alert mail."""
    action = ctx.action
    if action is None or ctx.dry_run or not action.pk:
        return
    connector = ctx.connector.name if ctx.connector is not None else "a connector"
    alerts.record_failure(
        ctx.project,
        alert_source(action),
        label=f'{label} "{action.name or action.type}" in {connector}',
        error=message,
        recipients=alert_emails,
        link=action_log_url(action),
    )


@dataclass
class SentTest:
    """What the admin's Test button shows: the request sent and its answer, or the error."""

    call: OutboundCall | None = None
    response: Any = None
    error: str = ""
    is_json: bool = False
    value: Any = None
    # Why the connector's field mapping gave no contact for the payload, if it did not.
    contact_error: str = ""


def send_test_request(action, payload):
    """Send `action`'s request once, its templates rendered with `payload` as the event.

    Counts against the rate limit and is logged like any request; a successful JSON answer
    maps the response of a type that maps responses. Failures are not alerted.
    """
    action_type = get_type(action.type)
    connector = action.step.connector
    data, contact_error = sample_context(action, payload)
    ctx = ActionContext(
        project=connector.project,
        data=data,
        connector=connector,
        step=action.step,
        action=action,
    )
    try:
        call = action_type.build_call(ctx, action_type.render(ctx, action.config))
    except ActionError as exc:
        return SentTest(error=exc.message, contact_error=contact_error)
    try:
        response = perform(ctx.project, call, action=action, trigger=HttpRequestLog.Trigger.TEST)
    except outbound.OutboundError as exc:
        return SentTest(call=call, error=exc.message, contact_error=contact_error)
    is_json, value = parsed_json(response)
    if action_type.maps_response and response.ok:
        note_response(action, is_json, value)
    return SentTest(
        call=call, response=response, is_json=is_json, value=value, contact_error=contact_error
    )


def sample_context(action, payload):
    """The context a test request renders its templates with: `payload` as the event, and
    as `contact` the one the connector's field mapping makes of it. Returns (context, why
    the mapping gave no contact or "")."""
    connector = action.step.connector
    ctx = ActionContext(
        project=connector.project,
        data=context_namespaces(Event(connector=connector, payload=payload, method="TEST")),
        connector=connector,
        dry_run=True,
    )
    if not connector.field_mapping:
        return ctx.data, ""
    # The type whose code maps a connector's fields to a contact (as a run does).
    mapping_type = get_type("map_contact")
    try:
        # Mapped for real, as a run maps it, in a transaction rolled back: the Test button
        # writes no contact.
        with transaction.atomic():
            mapping_type.map_fields(ctx, mapping_type.render(ctx, connector.field_mapping))
            raise ContactMappedAndUndone
    except ContactMappedAndUndone:
        return ctx.data, ""
    except ActionError as exc:
        return ctx.data, (
            "The connector's field mapping gives no contact for this payload, so contact "
            f"values are empty: {exc.message}"
        )


class ContactMappedAndUndone(Exception):
    """Internal: ends the transaction sample_context maps the contact in, undoing its rows."""
