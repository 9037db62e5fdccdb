"""Admin pages of the HTTP-flavoured actions (http_request, chatgpt).

The buttons come from the types' `admin_links`: "Test" (send the request once with the
connector's sample payload), the response mapping (with "JSON structure change detected"
and a Remap button), the last requests with a "View" page, and "Reset Mail Timeout".
The URL patterns are included in picky/urls.py under admin/actions/http/; every view is an
admin view limited to the actions of the user's projects.
"""

import json

from django.contrib import admin, messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods

from picky import alerts
from picky.json_input import JSONInputError, parse_json
from picky.models import AlertState
from picky.tenancy import EDIT, ProjectScopedAdminMixin
from picky.wording import counted

from . import http_services
from .models import Action, HttpRequestLog
from .registry import get_type
from .types.http import OutboundActionType, alert_recipients

MAX_TEST_PAYLOAD_CHARS = 200_000


def outbound_action(request, action_id):
    """The HTTP-flavoured action `action_id` of a project where the user may edit actions:
    403 when they may nowhere, 404 when it is not theirs."""
    action = admin.site.get_model_admin(Action).scoped_object(request, action_id, EDIT)
    if not isinstance(get_type(action.type), OutboundActionType):
        raise Http404("This action does not send HTTP requests.")
    return action


def page(request, action, template, title, **context):
    return TemplateResponse(
        request,
        f"actions/http/{template}",
        {
            **admin.site.each_context(request),
            "title": title,
            "action": action,
            "action_type": get_type(action.type),
            "connector": action.step.connector,
            "step": action.step,
            "action_url": reverse("admin:actions_action_change", args=[action.pk]),
            **context,
        },
    )


def pretty(value):
    return json.dumps(value, indent=2, ensure_ascii=False)


@require_http_methods(["GET", "POST"])
def test_view(request, action_id):
    action = outbound_action(request, action_id)
    sample = action.step.connector.sample_payload
    payload_text = request.POST.get("payload", pretty(sample if sample is not None else {}))
    context = {"payload_text": payload_text, "has_sample": sample is not None}
    if request.method == "POST":
        payload, error = parse_payload(payload_text)
        if error:
            context["payload_error"] = error
        else:
            sent = http_services.send_test_request(action, payload)
            context["sent"] = sent
            if sent.call is not None:
                context["request_url"] = http_services.mask_url(sent.call.logged_url())
                context["request_headers"] = http_services.mask_headers(sent.call.headers)
                context["request_body"] = sent.call.logged_body()
            if sent.response is not None:
                context["response_body"] = (
                    pretty(sent.value) if sent.is_json else sent.response.text
                )
            context["mapping_notice"] = http_services.mapping_notice(
                http_services.mapping_of(action)
            )
    return page(request, action, "test.html", f"Test {action}", **context)


def parse_payload(text):
    if len(text) > MAX_TEST_PAYLOAD_CHARS:
        return None, f"The payload is longer than {MAX_TEST_PAYLOAD_CHARS} characters."
    try:
        payload = parse_json(text or "{}")
    except JSONInputError as exc:
        return None, exc.message
    if not isinstance(payload, dict):
        return None, "The payload must be a JSON object, like the body of a webhook."
    return payload, ""


@require_http_methods(["GET", "POST"])
def mapping_view(request, action_id):
    action = outbound_action(request, action_id)
    if request.method == "POST":
        if http_services.remap(action) is not None:
            messages.success(request, "The response was remapped to its latest structure.")
        return redirect("http_action_mapping", action.pk)
    mapping = http_services.mapping_of(action)
    save_as = (action.config or {}).get("save_as", "")
    paths = http_services.mapped_paths(mapping, save_as)
    context = {
        "mapping": mapping,
        "notice": http_services.mapping_notice(mapping),
        "changed_notice": http_services.MAPPING_CHANGED,
        "save_as": save_as,
        "paths": [{"path": p, "template": "{{ " + p + " }}"} for p in paths],
    }
    if mapping is not None and mapping.structure_changed:
        added, removed = http_services.structure_changes(mapping, save_as)
        context.update(
            added_paths=added, removed_paths=removed, changed_sample=pretty(mapping.changed_sample)
        )
    if mapping is not None and mapping.mapped_at:
        context["sample"] = pretty(mapping.sample)
    return page(request, action, "mapping.html", f"Response mapping of {action}", **context)


def logs_view(request, action_id):
    action = outbound_action(request, action_id)
    logs = http_services.recent_logs(action)
    return page(request, action, "logs.html", f"Last requests of {action}", logs=logs)


def log_view(request, action_id, log_id):
    action = outbound_action(request, action_id)
    log = get_object_or_404(HttpRequestLog, action=action, pk=log_id)
    return page(
        request,
        action,
        "log.html",
        f"{log.method} request of {log.created_at:%Y-%m-%d %H:%M:%S}",
        log=log,
        request_headers=pretty(log.request_headers),
        response_headers=pretty(log.response_headers),
        response_body=pretty_if_json(log.response_body),
        request_body=pretty_if_json(log.request_body),
    )


def pretty_if_json(text):
    try:
        return pretty(json.loads(text))
    except ValueError:
        return text


@require_http_methods(["GET", "POST"])
def reset_mail_view(request, action_id):
    action = outbound_action(request, action_id)
    project = action.step.connector.project
    source = http_services.alert_source(action)
    if request.method == "POST":
        alerts.reset_mail_timeout(project, source)
        messages.success(
            request, "Mail timeout reset: the next failure of this action is mailed at once."
        )
        return redirect("http_action_reset_mail", action.pk)
    state = alerts.alert_state(project, source)
    return page(
        request,
        action,
        "reset_mail.html",
        f"Alert mail of {action}",
        state=state,
        next_mail_at=alerts.next_mail_at(state),
        recipients=alert_recipients(action),
    )


urlpatterns = [
    path("<int:action_id>/test/", admin.site.admin_view(test_view), name="http_action_test"),
    path(
        "<int:action_id>/mapping/",
        admin.site.admin_view(mapping_view),
        name="http_action_mapping",
    ),
    path("<int:action_id>/logs/", admin.site.admin_view(logs_view), name="http_action_logs"),
    path(
        "<int:action_id>/logs/<int:log_id>/",
        admin.site.admin_view(log_view),
        name="http_action_log",
    ),
    path(
        "<int:action_id>/reset-mail-timeout/",
        admin.site.admin_view(reset_mail_view),
        name="http_action_reset_mail",
    ),
]


class ReadOnlyScopedAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(HttpRequestLog)
class HttpRequestLogAdmin(ReadOnlyScopedAdmin):
    project_path = HttpRequestLog.project_path
    list_display = ["created_at", "action", "trigger", "method", "url", "status", "error"]
    list_filter = ["trigger", "method"]
    list_select_related = ["action"]
    search_fields = ["url", "error"]


@admin.register(AlertState)
class AlertStateAdmin(ReadOnlyScopedAdmin):
    list_display = ["label", "project", "pending_failures", "last_mailed_at", "latest_failure_at"]
    list_select_related = ["project"]
    readonly_fields = [f.name for f in AlertState._meta.fields]
    actions = ["reset_mail_timeout"]

    @admin.action(description="Reset Mail Timeout")
    def reset_mail_timeout(self, request, queryset):
        for state in queryset:
            alerts.reset_mail_timeout(state.project, state.source)
        messages.success(request, f"Mail timeout reset for {counted(len(queryset), 'alert')}.")
