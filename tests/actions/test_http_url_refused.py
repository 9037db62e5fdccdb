"""A URL that is not an absolute http(s) URL after templating is an ordinary failure of the
action: logged in the run, kept in the request log, counted for the alert mail, and followed
by the action's fallback; the admin's Test button shows it."""

import pytest
from django.core import mail
from django.urls import reverse

from actions.models import Action, HttpRequestLog
from connectors import engine, services
from connectors.models import Run, RunLog
from picky.models import AlertState
from tests.builders import build_connector

EMPTY_T07 = "The URL is empty after templating (`{{ event.t07 }}` has no value in this event)."


@pytest.fixture(autouse=True)
def no_backoff(settings):
    settings.PICKY_HTTP_RETRY_BACKOFF_SECONDS = 0


def connector_calling(project, http_config):
    """An HTTP Request, then a mail that only goes out when the run goes on."""
    return build_connector(
        project,
        name="Orders",
        steps=[
            {
                "name": "Call and tell",
                "actions": [
                    ("http_request", {"retries": 2, **http_config}),
                    ("send_email", {"to": ["ops@shop.example"], "subject": "Went on"}),
                ],
            }
        ],
    )


def run_connector(connector, payload):
    event = services.record_event(
        connector, payload, method="POST", headers={}, source_ip="127.0.0.1"
    )
    engine.process_event(event.pk)
    return Run.objects.get(event=event, replay_of=None)


def http_action_of(connector):
    return Action.objects.get(step__connector=connector, type="http_request")


def test_empty_url_fails_the_action_and_continue_goes_on(project):
    connector = connector_calling(project, {"url": "{{ event.t07 }}", "fallback": "continue"})
    run = run_connector(connector, {"t06": "x"})

    assert run.status == Run.Status.SUCCEEDED
    failed = RunLog.objects.get(run=run, action_type="http_request")
    assert failed.status == RunLog.Status.FAILED
    assert failed.error == EMPTY_T07
    assert [m.subject for m in mail.outbox] == ["Went on"]
    # Kept in the request log once: a refused URL is not tried again.
    log = HttpRequestLog.objects.get(action=http_action_of(connector))
    assert (log.run_id, log.trigger, log.status) == (run.pk, HttpRequestLog.Trigger.RUN, None)
    assert log.url == "" and log.error == EMPTY_T07
    alert = AlertState.objects.get(project=project)
    assert alert.pending_failures == 1 and alert.latest_error == EMPTY_T07


def test_empty_url_with_fallback_stop_fails_the_run(project):
    connector = connector_calling(project, {"url": "{{ event.t07 }}", "fallback": "stop"})
    run = run_connector(connector, {})

    assert run.status == Run.Status.FAILED
    assert EMPTY_T07 in run.error and "Internal error" not in run.error
    assert mail.outbox == []
    assert HttpRequestLog.objects.get(action=http_action_of(connector)).error == EMPTY_T07
    assert AlertState.objects.get(project=project).pending_failures == 1


@pytest.mark.parametrize(
    "template, payload, error",
    [
        (
            "{{ event.base }}/orders/{{ event.id }}",
            {"id": 7},
            "The URL '/orders/7' is not an absolute http(s) URL after templating "
            "(`{{ event.base }}` has no value in this event).",
        ),
        (
            "{{ event.scheme }}://{{ event.host }}/x",
            {},
            "The URL ':///x' is not an absolute http(s) URL after templating "
            "(`{{ event.scheme }}`, `{{ event.host }}` have no value in this event).",
        ),
        (
            "https://{{ event.host }}/x",
            {"host": ""},
            "The URL 'https:///x' has no host after templating "
            "(`{{ event.host }}` has no value in this event).",
        ),
        (
            "{{ event.callback }}",
            {"callback": "ftp://files.example.com/drop"},
            "The URL 'ftp://files.example.com/drop' is not an http(s) URL.",
        ),
        (
            "{{ event.callback }}",
            {"callback": "orders.example.com/hook"},
            "The URL 'orders.example.com/hook' is not an absolute http(s) URL.",
        ),
        (
            "{{ event.callback }}",
            {"callback": "http://[fe80::1/hook"},
            "The URL 'http://[fe80::1/hook' is not a valid URL: Invalid IPv6 URL.",
        ),
    ],
)
def test_urls_that_are_not_absolute_http_urls_are_refused(project, template, payload, error):
    connector = connector_calling(project, {"url": template, "fallback": "continue"})
    run = run_connector(connector, payload)

    assert run.status == Run.Status.SUCCEEDED
    assert RunLog.objects.get(run=run, action_type="http_request").error == error
    assert HttpRequestLog.objects.get(action=http_action_of(connector)).error == error
    assert AlertState.objects.get(project=project).latest_error == error


def test_chatgpt_without_a_base_url_is_an_ordinary_failure(project):
    project.chatgpt_api_key = "sk-test-0123456789"
    project.chatgpt_base_url = ""  # the forms refuse it; a row written otherwise may hold it
    project.save()
    connector = build_connector(
        project,
        name="Ask",
        steps=[{"actions": [("chatgpt", {"user_prompt": "Hi", "fallback": "continue"})]}],
    )
    run = run_connector(connector, {})

    error = "The URL '/chat/completions' is not an absolute http(s) URL."
    assert run.status == Run.Status.SUCCEEDED
    assert RunLog.objects.get(run=run, action_type="chatgpt").error == error
    log = HttpRequestLog.objects.get(action__step__connector=connector)
    assert log.error == error and log.url == "/chat/completions"
    assert AlertState.objects.get(project=project).pending_failures == 1


def test_test_button_shows_the_refusal(client, member, project):
    connector = connector_calling(project, {"url": "{{ event.t07 }}"})
    action = http_action_of(connector)
    client.force_login(member)

    response = client.post(reverse("http_action_test", args=[action.pk]), {"payload": '{"t06": 1}'})

    assert response.status_code == 200
    assert (
        "The URL is empty after templating (`{{ event.t07 }}` has no value in this event)."
        in response.content.decode()
    )
    log = HttpRequestLog.objects.get(action=action)
    assert log.trigger == HttpRequestLog.Trigger.TEST and log.error == EMPTY_T07
    assert not AlertState.objects.exists()
