import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django import forms
from django.core import mail
from pytest_httpserver import HTTPServer
from werkzeug import Response

from actions import http_services
from actions.base import ActionContext, ActionError
from actions.models import Action, HttpRequestLog
from actions.registry import get_type
from connectors import engine, services
from connectors.models import Run, RunLog
from picky import alerts
from tests.builders import build_connector

HTTP = get_type("http_request")
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def allow_local(settings):
    settings.PICKY_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    settings.PICKY_HTTP_RETRY_BACKOFF_SECONDS = 0


@pytest.fixture
def release_slow_handlers():
    event = threading.Event()
    yield event
    event.set()


def url(httpserver, path):
    return httpserver.url_for(path).replace("localhost", "127.0.0.1")


def http_action(project, config, sample=None):
    connector = build_connector(
        project,
        name="Leads",
        sample_payload=sample,
        steps=[{"name": "Call the CRM", "actions": [("http_request", config)]}],
    )
    action = Action.objects.get(step__connector=connector)
    action.name = "Lookup"
    action.save()
    return action


def run_action(action, event=None, config=None, deadline=None):
    """Validate, render and run the action's config the way the engine does."""
    ctx = ActionContext(
        project=action.step.connector.project,
        data={"event": event or {}, "vars": {}, "contact": {}},
        connector=action.step.connector,
        step=action.step,
        action=action,
        deadline=deadline,
    )
    inputs = HTTP.render(ctx, HTTP.validate(config or action.config))
    return HTTP.run(ctx, inputs)


def sent(httpserver, index=0):
    return httpserver.log[index][0]


# On the wire -------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def test_every_method_reaches_the_server(project, httpserver, method):
    httpserver.expect_request("/m", method=method).respond_with_json({"method": method})
    action = http_action(project, {"method": method, "url": url(httpserver, "/m")})
    result = run_action(action)
    assert sent(httpserver).method == method
    assert result.outputs["status"] == 200
    if method != "HEAD":
        assert result.outputs["response"] == {"method": method}


def test_outputs_have_status_ok_response_text_and_duration(project, httpserver):
    httpserver.expect_request("/c").respond_with_json({"name": "Asha", "paid": True})
    result = run_action(http_action(project, {"url": url(httpserver, "/c"), "save_as": "crm"}))
    assert set(result.outputs) == {"status", "ok", "response", "text", "duration_ms"}
    assert result.outputs["ok"] is True
    assert result.outputs["response"] == {"name": "Asha", "paid": True}
    assert json.loads(result.outputs["text"]) == {"name": "Asha", "paid": True}
    assert result.outputs["duration_ms"] > 0


def test_url_headers_and_json_body_are_templates(project, httpserver):
    httpserver.expect_request("/contacts/42").respond_with_json({})
    config = {
        "method": "POST",
        "url": url(httpserver, "/contacts/{{ event.id }}?src={{ event.source }}"),
        "headers": {"X-Key": "k-{{ event.tenant }}", "X-Order": "{{ event.order.number }}"},
        "body_type": "json",
        "body": {
            "id": "{{ event.id }}",
            "items": "{{ event.items }}",
            "note": "Hi {{ event.name }}",
        },
    }
    event = {
        "id": 42,
        "source": "shop",
        "tenant": "acme",
        "order": {"number": "A-7"},
        "items": [{"sku": "x"}],
        "name": "Asha",
    }
    run_action(http_action(project, config), event)
    request = sent(httpserver)
    assert request.path == "/contacts/42"
    assert request.args["src"] == "shop"
    assert request.headers["X-Key"] == "k-acme"
    assert request.headers["X-Order"] == "A-7"
    assert request.headers["Content-Type"] == "application/json"
    # A template that is exactly one hole keeps the value's type.
    assert request.get_json() == {"id": 42, "items": [{"sku": "x"}], "note": "Hi Asha"}


def test_json_document_body(project, httpserver):
    httpserver.expect_request("/d").respond_with_json({})
    config = {
        "method": "PUT",
        "url": url(httpserver, "/d"),
        "body_type": "json",
        "body": '{"email": "{{ event.email }}", "count": {{ event.count }}}',
    }
    run_action(http_action(project, config), {"email": "a@b.io", "count": 3})
    assert sent(httpserver).get_json() == {"email": "a@b.io", "count": 3}


def test_json_document_that_breaks_after_templating_fails_clearly(project, httpserver):
    config = {
        "method": "POST",
        "url": url(httpserver, "/d"),
        "body_type": "json",
        "body": '{"count": {{ event.count }}}',
    }
    with pytest.raises(ActionError, match="not valid JSON after templating"):
        run_action(http_action(project, config), {"count": "not a number"})
    assert httpserver.log == []


def test_query_body_goes_into_the_query_string_of_a_get(project, httpserver):
    httpserver.expect_request("/q").respond_with_json({})
    config = {
        "url": url(httpserver, "/q"),
        "body_type": "query",
        "body": {"phone": "{{ event.phone }}", "lang": "en"},
    }
    run_action(http_action(project, config), {"phone": "+91 98470"})
    assert sent(httpserver).args.to_dict() == {"phone": "+91 98470", "lang": "en"}


def test_query_body_is_a_form_body_of_a_post(project, httpserver):
    httpserver.expect_request("/f", method="POST").respond_with_json({})
    config = {
        "method": "POST",
        "url": url(httpserver, "/f"),
        "body_type": "query",
        "body": "name={{ event.name }}&tag=a&tag=b%20c",
    }
    run_action(http_action(project, config), {"name": "Asha"})
    request = sent(httpserver)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form.to_dict(flat=False) == {"name": ["Asha"], "tag": ["a", "b c"]}


def test_raw_body_with_its_content_type(project, httpserver):
    httpserver.expect_request("/r", method="POST").respond_with_data("ok")
    config = {
        "method": "POST",
        "url": url(httpserver, "/r"),
        "body_type": "raw",
        "content_type": "application/xml",
        "body": "<lead>{{ event.name }}</lead>",
    }
    run_action(http_action(project, config), {"name": "Asha"})
    request = sent(httpserver)
    assert request.headers["Content-Type"] == "application/xml"
    assert request.get_data(as_text=True) == "<lead>Asha</lead>"


def test_no_body(project, httpserver):
    httpserver.expect_request("/n", method="POST").respond_with_data("ok")
    run_action(http_action(project, {"method": "POST", "url": url(httpserver, "/n")}))
    assert sent(httpserver).get_data() == b""


def test_headers_as_lines_and_as_pairs(project, httpserver):
    httpserver.expect_request("/h").respond_with_data("ok")
    action = http_action(project, {"url": url(httpserver, "/h")})
    run_action(
        action,
        config={**action.config, "headers": "X-One: 1\nX-Two: {{ event.two }}"},
        event={"two": "2"},
    )
    run_action(action, config={**action.config, "headers": [{"key": "X-Three", "value": "3"}]})
    assert sent(httpserver, 0).headers["X-Two"] == "2"
    assert sent(httpserver, 0).headers["X-One"] == "1"
    assert sent(httpserver, 1).headers["X-Three"] == "3"


def test_values_in_headers_and_bodies_read_as_in_templates(project, httpserver):
    # A whole number that came as 3.0 reads 3 wherever it is put, as in "Qty {{ event.qty }}".
    httpserver.expect_request("/v").respond_with_data("ok")
    httpserver.expect_request("/v", method="POST").respond_with_data("ok")
    event = {"qty": 3.0, "paid": True, "price": 2.5}
    query = {"qty": "{{ event.qty }}", "text": "Qty {{ event.qty }}", "paid": "{{ event.paid }}"}
    action = http_action(project, {"url": url(httpserver, "/v")})
    config = {**action.config, "headers": {"X-Qty": "{{ event.qty }}"}}
    run_action(action, event, config={**config, "body_type": "query", "body": query})
    raw = {"method": "POST", "body_type": "raw", "body": "{{ event.qty }}"}
    run_action(action, event, config={**config, **raw})
    raw_price = {**raw, "body": "{{ event.price }}"}
    run_action(action, event, config={**config, **raw_price})
    assert sent(httpserver, 0).headers["X-Qty"] == "3"
    assert sent(httpserver, 0).args.to_dict() == {"qty": "3", "text": "Qty 3", "paid": "true"}
    assert sent(httpserver, 1).get_data(as_text=True) == "3"
    assert sent(httpserver, 2).get_data(as_text=True) == "2.5"
    # A number typed into the headers' JSON is saved as the same text.
    saved = HTTP.validate({**config, "headers": {"X-Qty": 3.0, "X-Flag": False}})
    assert saved["headers"] == {"X-Qty": "3", "X-Flag": "false"}


# Failures, timeouts, retries ------------------------------------------------------------


def test_non_2xx_fails_with_status_and_body(project, httpserver):
    httpserver.expect_request("/x").respond_with_json({"error": "no such contact"}, status=404)
    with pytest.raises(ActionError, match='HTTP 404 from GET .*/x: {"error": "no such contact"}'):
        run_action(http_action(project, {"url": url(httpserver, "/x")}))


def test_failure_messages_do_not_show_secret_query_values(project, httpserver):
    httpserver.expect_request("/x").respond_with_data("denied", status=403)
    action = http_action(project, {"url": url(httpserver, "/x?token={{ event.token }}")})
    with pytest.raises(ActionError) as failure:
        run_action(action, {"token": "tok-secret-1"})
    assert failure.value.message == f"HTTP 403 from GET {url(httpserver, '/x')}?…: denied"


def test_slow_server_times_out(project, httpserver, release_slow_handlers):
    def slow(request):
        release_slow_handlers.wait(10)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    action = http_action(project, {"url": url(httpserver, "/slow"), "timeout": 0.5})
    with pytest.raises(ActionError, match="No answer within 0.5 seconds") as failure:
        run_action(action)
    assert failure.value.permanent is False
    assert HttpRequestLog.objects.get(action=action).error.startswith("No answer within")


def test_retries_on_5xx_until_success(project, httpserver):
    answers = iter([Response("busy", status=503), Response("down", status=502)])

    def flaky(request):
        return next(answers, None) or Response('{"ok": 1}', content_type="application/json")

    httpserver.expect_request("/flaky").respond_with_handler(flaky)
    action = http_action(project, {"url": url(httpserver, "/flaky"), "retries": 2})
    result = run_action(action)
    assert result.outputs["response"] == {"ok": 1}
    logs = list(HttpRequestLog.objects.filter(action=action).order_by("id"))
    assert [(log.attempt, log.status) for log in logs] == [(1, 503), (2, 502), (3, 200)]


def test_retries_give_up_after_the_last_one(project, httpserver):
    httpserver.expect_request("/down").respond_with_data("down", status=500)
    action = http_action(project, {"url": url(httpserver, "/down"), "retries": 3})
    with pytest.raises(ActionError, match="HTTP 500"):
        run_action(action)
    assert len(httpserver.log) == 4


def test_retries_stop_before_they_could_outlast_the_runs_lease(project, settings, httpserver):
    # Half the lease is 1.5 s: the first retry fits (0.2 s wait + 1 s timeout), the second
    # (0.4 s more wait + 1 s) would not.
    settings.PICKY_RUN_LEASE_SECONDS = 3
    settings.PICKY_HTTP_RETRY_BACKOFF_SECONDS = 0.2
    httpserver.expect_request("/down").respond_with_data("down", status=500)
    action = http_action(project, {"url": url(httpserver, "/down"), "retries": 5, "timeout": 1})
    with pytest.raises(ActionError, match="HTTP 500"):
        run_action(action)
    assert len(httpserver.log) == 2


def test_retries_stop_before_they_could_outlast_the_runs_time_limit(project, settings, httpserver):
    # The run must end within 1.5 s: the first retry fits (0.2 s wait + 1 s timeout), the
    # second (0.4 s more wait + 1 s) would end after it.
    settings.PICKY_HTTP_RETRY_BACKOFF_SECONDS = 0.2
    httpserver.expect_request("/down").respond_with_data("down", status=500)
    action = http_action(project, {"url": url(httpserver, "/down"), "retries": 5, "timeout": 1})
    with pytest.raises(ActionError, match="HTTP 500"):
        run_action(action, deadline=time.monotonic() + 1.5)
    assert len(httpserver.log) == 2


def test_retries_network_errors(project):
    action = http_action(project, {"url": "http://127.0.0.1:1/", "retries": 2})
    with pytest.raises(ActionError, match="Connection refused"):
        run_action(action)
    assert HttpRequestLog.objects.filter(action=action).count() == 3


def test_4xx_is_not_retried(project, httpserver):
    httpserver.expect_request("/bad").respond_with_data("bad", status=400)
    with pytest.raises(ActionError, match="HTTP 400") as failure:
        run_action(http_action(project, {"url": url(httpserver, "/bad"), "retries": 2}))
    assert failure.value.permanent is True
    assert len(httpserver.log) == 1


def test_eleventh_request_in_a_minute_is_refused(project, httpserver):
    httpserver.expect_request("/r").respond_with_data("ok")
    action = http_action(project, {"url": url(httpserver, "/r")})
    with time_machine.travel(START, tick=False):
        for _ in range(10):
            run_action(action)
        with pytest.raises(ActionError, match="^Rate Limit Exceeded$"):
            run_action(action)
    assert len(httpserver.log) == 10


@pytest.mark.parametrize(
    "target, reason",
    [
        ("http://169.254.169.254/latest/meta-data/iam/", "cloud metadata"),
        ("http://10.1.1.1/", "private address"),
        ("http://[::1]:8080/", "loopback"),
    ],
)
def test_ssrf_refusals(project, target, reason):
    with pytest.raises(ActionError, match=reason):
        run_action(http_action(project, {"url": target}))


def test_loopback_is_refused_without_the_allowlist(project, settings, httpserver):
    settings.PICKY_OUTBOUND_ALLOWLIST = []
    httpserver.expect_request("/x").respond_with_data("internal")
    with pytest.raises(ActionError, match="loopback"):
        run_action(http_action(project, {"url": url(httpserver, "/x")}))
    assert httpserver.log == []


def test_redirect_to_a_private_address_is_refused(project, httpserver):
    httpserver.expect_request("/go").respond_with_data(
        "", status=302, headers={"Location": "http://192.168.0.10/router"}
    )
    with pytest.raises(ActionError, match="192.168.0.10: a private address"):
        run_action(http_action(project, {"url": url(httpserver, "/go")}))


@pytest.fixture
def other_site():
    """A second local server: another origin (another port) than `httpserver`."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.mark.parametrize("forwarded", [False, True])
def test_secret_headers_reach_another_site_only_when_the_action_says_so(
    project, httpserver, other_site, forwarded
):
    httpserver.expect_request("/go").respond_with_data(
        "", status=302, headers={"Location": other_site.url_for("/elsewhere")}
    )
    other_site.expect_request("/elsewhere").respond_with_json({"ok": True})
    config = {"url": url(httpserver, "/go"), "headers": {"X-Api-Key": "k-secret-1"}}
    if forwarded:
        config["forward_headers_on_redirect"] = True
    result = run_action(http_action(project, config))
    assert result.outputs["response"] == {"ok": True}
    assert sent(httpserver).headers["X-Api-Key"] == "k-secret-1"
    assert other_site.log[0][0].headers.get("X-Api-Key") == ("k-secret-1" if forwarded else None)


def test_secret_headers_follow_a_redirect_within_the_site(project, httpserver):
    httpserver.expect_request("/go").respond_with_data("", status=302, headers={"Location": "/v2"})
    httpserver.expect_request("/v2").respond_with_json({"ok": True})
    config = {"url": url(httpserver, "/go"), "headers": {"X-Api-Key": "k-secret-1"}}
    run_action(http_action(project, config))
    assert sent(httpserver, 1).headers["X-Api-Key"] == "k-secret-1"


def test_forwarding_headers_on_redirects_is_an_option_of_the_form():
    field = HTTP.form_class().fields["forward_headers_on_redirect"]
    assert "another site" in field.help_text
    url_only = {"url": "https://api.example.com/x"}
    assert "forward_headers_on_redirect" not in HTTP.validate(url_only)
    ticked = HTTP.validate({**url_only, "forward_headers_on_redirect": "on"})
    assert ticked["forward_headers_on_redirect"] is True


# Response mapping ----------------------------------------------------------------------


def test_first_json_answer_maps_later_changes_are_detected(project, httpserver):
    answers = iter(
        [
            {"name": "Asha", "tags": ["vip"]},
            {"name": "Ravi", "tags": []},
            {"contact": {"name": "Asha"}},
        ]
    )
    httpserver.expect_request("/c").respond_with_handler(
        lambda request: Response(json.dumps(next(answers)), content_type="application/json")
    )
    action = http_action(project, {"url": url(httpserver, "/c"), "save_as": "crm"})
    run_action(action)
    mapping = http_services.mapping_of(action)
    assert http_services.mapped_paths(mapping, "crm") == [
        "vars.crm.response.name",
        "vars.crm.response.tags",
        "vars.crm.response.tags[0]",
    ]
    run_action(action)  # same structure (an empty list maps as the list itself)
    assert http_services.mapping_notice(http_services.mapping_of(action)) == ""

    run_action(action)
    mapping = http_services.mapping_of(action)
    assert http_services.mapping_notice(mapping) == "JSON structure change detected"
    assert any("JSON structure change detected" in label for label, _ in HTTP.admin_links(action))
    assert http_services.structure_changes(mapping, "crm") == (
        ["vars.crm.response.contact.name"],
        ["vars.crm.response.name", "vars.crm.response.tags", "vars.crm.response.tags[0]"],
    )
    http_services.remap(action)
    mapping = http_services.mapping_of(action)
    assert http_services.mapping_notice(mapping) == ""
    assert http_services.mapped_paths(mapping, "crm") == ["vars.crm.response.contact.name"]


def test_non_json_answer_is_not_mapped(project, httpserver):
    httpserver.expect_request("/html").respond_with_data(
        "<html>hi</html>", content_type="text/html"
    )
    action = http_action(project, {"url": url(httpserver, "/html"), "save_as": "page"})
    result = run_action(action)
    assert result.outputs["response"] is None
    assert result.outputs["text"] == "<html>hi</html>"
    assert http_services.mapping_notice(http_services.mapping_of(action)) == (
        "Response mapping not done, only JSON can be mapped as response"
    )
    assert http_services.mapped_paths(http_services.mapping_of(action), "page") == []


def test_failed_answers_do_not_map(project, httpserver):
    httpserver.expect_request("/e").respond_with_json({"error": "x"}, status=500)
    action = http_action(project, {"url": url(httpserver, "/e")})
    with pytest.raises(ActionError):
        run_action(action)
    assert http_services.mapping_of(action) is None


# Request logs ------------------------------------------------------------------------------


def test_logs_keep_the_last_20_with_secrets_masked(project, httpserver):
    httpserver.expect_request("/l").respond_with_json(
        {"ok": True}, headers={"Set-Cookie": "session=abc123"}
    )
    config = {
        "url": url(httpserver, "/l?api_key=sk-123&page={{ event.page }}"),
        "headers": {
            "Authorization": "Bearer sk-live-secret",
            "X-Api-Key": "abc",
            "Accept": "application/json",
        },
    }
    action = http_action(project, config)
    project.http_rate_limit_per_minute = 100
    project.save()
    for page in range(25):
        run_action(action, {"page": page})
    logs = list(http_services.recent_logs(action))
    assert len(logs) == 20 and HttpRequestLog.objects.filter(action=action).count() == 20
    newest = logs[0]
    assert "page=24" in newest.url and "sk-123" not in newest.url
    assert "api_key=*****" in newest.url
    assert newest.request_headers == {
        "Authorization": "*****",
        "X-Api-Key": "*****",
        "Accept": "application/json",
    }
    assert newest.response_headers["Set-Cookie"] == "*****"
    assert newest.status == 200 and json.loads(newest.response_body) == {"ok": True}


# Through the engine: outputs, fallback, alerts ---------------------------------------------


def run_connector(connector, payload):
    event = services.record_event(
        connector, payload, method="POST", headers={}, source_ip="127.0.0.1"
    )
    engine.process_event(event.pk)
    return Run.objects.get(event=event, replay_of=None)


def connector_with(project, http_config):
    return build_connector(
        project,
        name="Orders",
        steps=[
            {
                "name": "Check and tell",
                "actions": [
                    ("http_request", http_config),
                    (
                        "send_email",
                        {
                            "to": ["ops@shop.example"],
                            "subject": "Paid: {{ vars.bill.response.paid }}",
                            "body": "Status {{ vars.bill.status }}",
                        },
                    ),
                ],
            }
        ],
    )


def test_outputs_are_saved_under_vars_for_later_actions(project, httpserver):
    httpserver.expect_request("/bill/9").respond_with_json({"paid": True})
    connector = connector_with(
        project, {"url": url(httpserver, "/bill/{{ event.bill }}"), "save_as": "bill"}
    )
    run = run_connector(connector, {"bill": 9})
    assert run.status == Run.Status.SUCCEEDED
    assert mail.outbox[0].subject == "Paid: true"
    assert mail.outbox[0].body == "Status 200"


def test_fallback_continue_goes_on_with_the_next_actions(project, httpserver):
    httpserver.expect_request("/bill").respond_with_data("oops", status=500)
    connector = connector_with(
        project, {"url": url(httpserver, "/bill"), "save_as": "bill", "fallback": "continue"}
    )
    run = run_connector(connector, {})
    assert run.status == Run.Status.SUCCEEDED
    failed = RunLog.objects.get(run=run, action_type="http_request")
    assert failed.status == RunLog.Status.FAILED and "HTTP 500" in failed.error
    assert len(mail.outbox) == 1


def test_fallback_stop_fails_the_run(project, httpserver):
    httpserver.expect_request("/bill").respond_with_data("oops", status=500)
    connector = connector_with(project, {"url": url(httpserver, "/bill"), "fallback": "stop"})
    run = run_connector(connector, {})
    assert run.status == Run.Status.FAILED
    assert "HTTP 500" in run.error
    assert mail.outbox == []


def test_rate_limited_request_applies_the_fallback(project, httpserver):
    project.http_rate_limit_per_minute = 0
    project.save()
    connector = connector_with(project, {"url": url(httpserver, "/bill"), "fallback": "continue"})
    run = run_connector(connector, {})
    assert run.status == Run.Status.SUCCEEDED
    assert RunLog.objects.get(run=run, action_type="http_request").error == "Rate Limit Exceeded"
    assert httpserver.log == []


def test_failures_make_one_alert_mail_per_hour(project, httpserver):
    httpserver.expect_request("/bill").respond_with_data("down", status=503)
    config = {
        "url": url(httpserver, "/bill"),
        "fallback": "continue",
        "alert_emails": "ops@shop.example, cto@shop.example",
    }
    connector = connector_with(project, config)
    action = Action.objects.get(step__connector=connector, type="http_request")
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(7):
            run_connector(connector, {})
        mail.outbox.clear()  # the send_email action's own mails
        assert alerts.send_due_alerts() == 1
        alert = mail.outbox[0]
        assert alert.to == ["ops@shop.example", "cto@shop.example"]
        assert "failed 7 times" in alert.subject
        assert "HTTP 503" in alert.body

        clock.shift(timedelta(minutes=30))
        run_connector(connector, {})
        assert alerts.send_due_alerts() == 0

        alerts.reset_mail_timeout(project, http_services.alert_source(action))
        assert alerts.send_due_alerts() == 1
        assert "failed once" in mail.outbox[-1].subject


def test_simulation_sends_nothing_and_answers_with_the_mapped_response(project, httpserver):
    httpserver.expect_request("/bill").respond_with_json({"paid": False})
    connector = connector_with(project, {"url": url(httpserver, "/bill"), "save_as": "bill"})
    run_connector(connector, {})
    requests_before = len(httpserver.log)
    simulation = engine.simulate(connector, {})
    assert len(httpserver.log) == requests_before
    http_log = next(log for log in simulation.logs if log["action_type"] == "http_request")
    assert http_log["outputs"]["simulated"] is True
    assert http_log["outputs"]["response"] == {"paid": False}


# Config validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config, field, message",
    [
        ({"url": "ftp://example.com"}, "url", "not a valid http(s) URL"),
        ({"url": "example.com/{{ event.x }}"}, "url", "Start the URL with http"),
        ({"url": "https://a.io", "timeout": 61}, "timeout", "less than or equal to 60"),
        ({"url": "https://a.io", "retries": 6}, "retries", "less than or equal to 5"),
        ({"url": "https://a.io", "method": "TRACE"}, "method", "Select a valid choice"),
        ({"url": "https://a.io", "headers": {"Bad Name": "x"}}, "headers", "not a valid header"),
        ({"url": "https://a.io", "headers": "no colon here"}, "headers", "is not 'name: value'"),
        ({"url": "https://a.io", "body": {"a": 1}}, "body", "Choose a body type"),
        ({"url": "https://a.io", "body_type": "json", "body": "{bad"}, "body", "Not valid JSON"),
        ({"url": "https://a.io", "save_as": "2fast"}, "save_as", "letters, digits"),
        ({"url": "https://a.io", "alert_emails": "ops@x.io, nope"}, "alert_emails", "'nope'"),
        (
            {"url": "https://a.io", "alert_emails": [f"u{i}@x.io" for i in range(11)]},
            "alert_emails",
            "At most 10 addresses",
        ),
        ({"url": "https://a.io/{{ event.[ }}"}, "url", "Invalid path"),
    ],
)
def test_config_errors_are_reported_per_field(config, field, message):
    with pytest.raises(forms.ValidationError) as invalid:
        HTTP.validate(config)
    errors = invalid.value.message_dict if hasattr(invalid.value, "message_dict") else None
    text = json.dumps(errors or invalid.value.messages)
    assert field in text and message in text


def test_valid_config_is_cleaned_to_one_shape():
    cleaned = HTTP.validate(
        {
            "method": "POST",
            "url": "https://api.example.com/x",
            "headers": "X-Key: k\nAccept: application/json",
            "body_type": "json",
            "body": {"id": "{{ event.id }}"},
            "save_as": "crm",
            "fallback": "continue",
            "alert_emails": "ops@example.com, {{ event.owner_email }}",
            "timeout": "30",
            "retries": 0,
        }
    )
    assert cleaned["headers"] == {"X-Key": "k", "Accept": "application/json"}
    assert cleaned["alert_emails"] == ["ops@example.com", "{{ event.owner_email }}"]
    assert cleaned["timeout"] == 30.0
    assert cleaned["fallback"] == "continue"


@pytest.mark.django_db
def test_run_logs_and_the_step_page_mask_secret_headers(project):
    from connectors import engine, services
    from connectors.admin.steps import ActionInline
    from connectors.models import RunLog
    from tests.builders import build_connector

    connector = build_connector(
        project,
        steps=[{"actions": [("http_request", {
            "method": "GET", "url": "http://127.0.0.1:9/x?api_key=s3cret&q=1",
            "headers": {"Authorization": "Bearer s3cret", "Accept": "application/json"},
            "fallback": "continue"})]}],
    )  # fmt: skip
    event = services.record_event(connector, {}, method="POST", headers={}, source_ip=None)
    engine.process_event(event.pk)
    logged = RunLog.objects.get(kind="action").inputs
    assert "s3cret" not in str(logged)
    assert logged["headers"]["Accept"] == "application/json"
    action = connector.steps.get().actions.get()
    summary = ActionInline.settings(None, action)
    assert "s3cret" not in summary
    assert "Accept" in summary
