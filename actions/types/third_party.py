"""Third-party actions: chatgpt (any OpenAI-compatible chat-completions API)."""

from django import forms

from .. import http_services
from ..base import ActionError, Result
from ..registry import register
from .http import HttpConfigForm, OutboundActionType, failed_response, http_admin_links

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT = 60


class ChatGptForm(HttpConfigForm):
    model = forms.CharField(
        max_length=100, required=False, help_text=f"Model name (default {DEFAULT_MODEL})."
    )
    system_prompt = forms.CharField(
        required=False, widget=forms.Textarea, help_text="How the assistant behaves; templates."
    )
    user_prompt = forms.CharField(widget=forms.Textarea, help_text="The question; templates.")
    temperature = forms.FloatField(
        required=False, min_value=0, max_value=2, help_text="0 (focused) to 2 (creative)."
    )
    max_tokens = forms.IntegerField(
        required=False, min_value=1, max_value=128000, help_text="Longest reply, in tokens."
    )

    field_order = [
        "model",
        "system_prompt",
        "user_prompt",
        "temperature",
        "max_tokens",
        "save_as",
        "timeout",
        "retries",
        "fallback",
        "alert_emails",
    ]


@register("chatgpt")
class ChatGpt(OutboundActionType):
    label = "ChatGPT"
    category = "Third party"
    description = (
        "Ask ChatGPT (or any OpenAI-compatible server set in the project) and save the reply "
        "text as vars.<save_as>, e.g. for a later Send Message."
    )
    form_class = ChatGptForm
    literal_fields = ("model", "save_as", "timeout", "retries", "fallback", "temperature")

    def build_call(self, ctx, inputs):
        project = ctx.project
        if not project.chatgpt_api_key:
            raise ActionError("Set the ChatGPT API key in the project's settings first.")
        messages = []
        if str(inputs.get("system_prompt") or "").strip():
            messages.append({"role": "system", "content": str(inputs["system_prompt"])})
        user_prompt = str(inputs.get("user_prompt") or "")
        if not user_prompt.strip():
            raise ActionError("The user prompt is empty after templating.")
        messages.append({"role": "user", "content": user_prompt})
        body = {"model": inputs.get("model") or DEFAULT_MODEL, "messages": messages}
        if inputs.get("temperature") is not None:
            body["temperature"] = float(inputs["temperature"])
        if inputs.get("max_tokens"):
            body["max_tokens"] = int(inputs["max_tokens"])
        return http_services.OutboundCall(
            method="POST",
            url=project.chatgpt_base_url.rstrip("/") + "/chat/completions",
            headers={"Authorization": f"Bearer {project.chatgpt_api_key}"},
            json_body=body,
            timeout=float(inputs.get("timeout") or DEFAULT_TIMEOUT),
        )

    def outputs_of(self, ctx, call, response):
        is_json, data = http_services.parsed_json(response)
        if not response.ok:
            raise failed_response(api_error(response, is_json, data), response)
        reply = reply_text(data) if is_json else None
        if reply is None:
            snippet = http_services.body_snippet(response)
            raise ActionError(f"The API answered without a chat reply: {snippet}")
        # The outputs are the reply text itself, so `{{ vars.<save_as> }}` is the answer.
        return reply

    def dry_run(self, ctx, inputs):
        return Result(outputs="[simulated ChatGPT reply]")

    def admin_links(self, action):
        return http_admin_links(action, mapping=False)


def reply_text(data):
    """The first choice's message text of a chat-completions answer, or None."""
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) else None


def api_error(response, is_json, data):
    detail = ""
    if is_json and isinstance(data, dict):
        error = data.get("error")
        detail = error.get("message", "") if isinstance(error, dict) else str(error or "")
    detail = detail or http_services.body_snippet(response)
    hint = " (check the API key in the project's settings)" if response.status == 401 else ""
    return f"ChatGPT API error {response.status}{hint}: {detail}"
