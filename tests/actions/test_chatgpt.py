import json

import pytest
from django import forms
from django.core import mail
from werkzeug import Response

from actions.base import ActionContext, ActionError
from actions.models import Action, HttpRequestLog
from actions.registry import get_type
from connectors import engine, services
from connectors.models import Run, RunLog
from picky.models import AlertState
from tests.builders import build_connector

CHATGPT = get_type("chatgpt")
API_KEY = "sk-test-0123456789"


@pytest.fixture(autouse=True)
def allow_local(settings):
    settings.PICKY_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    settings.PICKY_HTTP_RETRY_BACKOFF_SECONDS = 0


@pytest.fixture
def openai(project, httpserver):
    """A local server that speaks the chat-completions format; the project points at it."""
    project.chatgpt_api_key = API_KEY
    project.chatgpt_base_url = httpserver.url_for("/v1").replace("localhost", "127.0.0.1")
    project.save()
    return httpserver


def completion(text):
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }


def answer_politely(request):
    if request.headers.get("Authorization") != f"Bearer {API_KEY}":
        return Response(
            json.dumps({"error": {"message": "Incorrect API key provided."}}),
            status=401,
            content_type="application/json",
        )
    body = request.get_json()
    question = body["messages"][-1]["content"]
    return Response(
        json.dumps(completion(f"Answer to: {question}")), content_type="application/json"
    )


def chatgpt_action(project, config):
    connector = build_connector(
        project, name="Ask", steps=[{"name": "Ask", "actions": [("chatgpt", config)]}]
    )
    return Action.objects.get(step__connector=connector)


def run_action(action, event=None):
    ctx = ActionContext(
        project=action.step.connector.project,
        data={"event": event or {}, "vars": {}, "contact": {}},
        connector=action.step.connector,
        step=action.step,
        action=action,
    )
    return CHATGPT.run(ctx, CHATGPT.render(ctx, CHATGPT.validate(action.config)))


def test_request_on_the_wire(project, openai):
    openai.expect_request("/v1/chat/completions", method="POST").respond_with_handler(
        answer_politely
    )
    config = {
        "model": "gpt-4.1",
        "system_prompt": "You write short WhatsApp replies for {{ event.shop }}.",
        "user_prompt": "Thank {{ event.name }} for order {{ event.order }}.",
        "temperature": 0.2,
        "max_tokens": 60,
        "save_as": "reply",
    }
    result = run_action(
        chatgpt_action(project, config), {"shop": "Acme", "name": "Asha", "order": 7}
    )
    request = openai.log[0][0]
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.get_json() == {
        "model": "gpt-4.1",
        "messages": [
            {"role": "system", "content": "You write short WhatsApp replies for Acme."},
            {"role": "user", "content": "Thank Asha for order 7."},
        ],
        "temperature": 0.2,
        "max_tokens": 60,
    }
    assert result.outputs == "Answer to: Thank Asha for order 7."


def test_reply_text_is_saved_for_a_later_action(project, openai):
    openai.expect_request("/v1/chat/completions").respond_with_handler(answer_politely)
    connector = build_connector(
        project,
        name="Reply",
        steps=[
            {
                "actions": [
                    ("chatgpt", {"user_prompt": "Greet {{ event.name }}", "save_as": "reply"}),
                    (
                        "send_email",
                        {
                            "to": ["ops@shop.example"],
                            "subject": "Draft",
                            "body": "{{ vars.reply }}",
                        },
                    ),
                ]
            }
        ],
    )
    event = services.record_event(
        connector, {"name": "Ravi"}, method="POST", headers={}, source_ip="127.0.0.1"
    )
    engine.process_event(event.pk)
    run = Run.objects.get(event=event)
    assert run.status == Run.Status.SUCCEEDED
    assert mail.outbox[0].body == "Answer to: Greet Ravi"
    assert RunLog.objects.get(run=run, action_type="chatgpt").outputs == "Answer to: Greet Ravi"


def test_model_defaults_and_no_system_prompt(project, openai):
    openai.expect_request("/v1/chat/completions").respond_with_handler(answer_politely)
    run_action(chatgpt_action(project, {"user_prompt": "Hi"}))
    assert openai.log[0][0].get_json() == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hi"}],
    }


def test_missing_api_key_fails_without_sending(project, httpserver):
    project.chatgpt_base_url = httpserver.url_for("/v1")
    project.save()
    with pytest.raises(ActionError, match="Set the ChatGPT API key"):
        run_action(chatgpt_action(project, {"user_prompt": "Hi"}))
    assert httpserver.log == []


def test_wrong_key_fails_with_the_servers_message_and_is_alerted(project, openai):
    project.chatgpt_api_key = "sk-wrong"
    project.save()
    openai.expect_request("/v1/chat/completions").respond_with_handler(answer_politely)
    action = chatgpt_action(project, {"user_prompt": "Hi", "alert_emails": "ai@shop.example"})
    with pytest.raises(ActionError) as failure:
        run_action(action)
    assert failure.value.message == (
        "ChatGPT API error 401 (check the API key in the project's settings): "
        "Incorrect API key provided."
    )
    state = AlertState.objects.get(source=f"action:{action.pk}")
    assert (state.pending_failures, state.recipients) == (1, ["ai@shop.example"])
    assert "Incorrect API key" in state.latest_error


def test_rate_limited_by_the_api_is_retried(project, openai):
    answers = iter(
        [
            Response(
                '{"error": {"message": "Slow down"}}', status=429, content_type="application/json"
            )
        ]
    )
    openai.expect_request("/v1/chat/completions").respond_with_handler(
        lambda request: next(answers, None) or answer_politely(request)
    )
    result = run_action(chatgpt_action(project, {"user_prompt": "Hi", "retries": 1}))
    assert result.outputs == "Answer to: Hi"
    assert len(openai.log) == 2


def test_answer_without_a_reply_is_an_error(project, openai):
    openai.expect_request("/v1/chat/completions").respond_with_json({"choices": []})
    with pytest.raises(ActionError, match='without a chat reply: {"choices": \\[\\]}'):
        run_action(chatgpt_action(project, {"user_prompt": "Hi"}))


def test_fallback_continue_goes_on(project, openai):
    openai.expect_request("/v1/chat/completions").respond_with_data("down", status=500)
    connector = build_connector(
        project,
        name="Reply",
        steps=[
            {
                "actions": [
                    ("chatgpt", {"user_prompt": "Hi", "fallback": "continue", "save_as": "r"}),
                    ("send_email", {"to": ["ops@shop.example"], "subject": "s", "body": "b"}),
                ]
            }
        ],
    )
    event = services.record_event(connector, {}, method="POST", headers={}, source_ip=None)
    engine.process_event(event.pk)
    run = Run.objects.get(event=event)
    assert run.status == Run.Status.SUCCEEDED
    assert RunLog.objects.get(run=run, action_type="chatgpt").error.startswith(
        "ChatGPT API error 500"
    )
    assert len(mail.outbox) == 1


def test_api_key_is_masked_in_the_request_log(project, openai):
    openai.expect_request("/v1/chat/completions").respond_with_handler(answer_politely)
    action = chatgpt_action(project, {"user_prompt": "Hi"})
    run_action(action)
    log = HttpRequestLog.objects.get(action=action)
    assert log.request_headers == {"Authorization": "*****"}
    assert API_KEY not in json.dumps(log.request_headers) + log.url + log.request_body


def test_base_url_goes_through_the_ssrf_guard(project):
    project.chatgpt_api_key = API_KEY
    project.chatgpt_base_url = "http://169.254.169.254/v1"
    project.save()
    with pytest.raises(ActionError, match="cloud metadata"):
        run_action(chatgpt_action(project, {"user_prompt": "Hi"}))


def test_simulation_does_not_call_the_api(project, openai):
    connector = build_connector(
        project,
        name="Sim",
        steps=[{"actions": [("chatgpt", {"user_prompt": "Hi", "save_as": "r"})]}],
    )
    simulation = engine.simulate(connector, {})
    assert simulation.context["vars"]["r"] == "[simulated ChatGPT reply]"
    assert openai.log == []


@pytest.mark.parametrize(
    "config, field",
    [
        ({}, "user_prompt"),
        ({"user_prompt": "x", "temperature": 3}, "temperature"),
        ({"user_prompt": "x", "max_tokens": 0}, "max_tokens"),
        ({"user_prompt": "x", "alert_emails": "bad"}, "alert_emails"),
    ],
)
def test_config_errors(config, field):
    with pytest.raises(forms.ValidationError) as invalid:
        CHATGPT.validate(config)
    assert field in invalid.value.message_dict
