"""Third-party actions: chatgpt (any OpenAI-compatible chat-completions API), send_whatsmail."""

from django import forms

from crm import services as crm
from teambox import services as messaging

from .. import http_services
from ..base import ActionConfigForm, ActionError, ActionType, Effect, Result, not_sent
from ..registry import register
from .fields import ChannelNameField
from .http import HttpConfigForm, OutboundActionType, failed_response, http_admin_links
from .notification import effect_key

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
        "text as vars.NAME (NAME is Save as), e.g. for a later Send Message."
    )
    form_class = ChatGptForm
    default_timeout = DEFAULT_TIMEOUT
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

    def simulated_outputs(self, ctx, call):
        return "[simulated ChatGPT reply]"

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


class SendWhatsmailForm(ActionConfigForm):
    to = forms.CharField(
        required=False, help_text="E-mail address; default: the contact's, {{ contact.email }}."
    )
    subject = forms.CharField(max_length=300)
    body = forms.CharField(widget=forms.Textarea)
    channel = ChannelNameField(
        required=False,
        max_length=100,
        help_text="E-mail channel that receives the replies; default: the project's first.",
    )
    optout_list = forms.CharField(
        required=False, max_length=100, help_text="Skip contacts on this opt-out list."
    )


@register("send_whatsmail")
class SendWhatsmail(ActionType):
    label = "Send WhatsMail"
    category = "Third party"
    description = (
        "E-mail the contact from a unique reply+<token>@ address, so replies come back to "
        "the contact's conversation."
    )
    effect = Effect.OUTSIDE
    effect_is_idempotent = True  # its idempotency key (effect_key)
    form_class = SendWhatsmailForm

    def recipient(self, ctx, inputs):
        raw = str(inputs.get("to") or "").strip() or getattr(ctx.contact, "email", "")
        if not raw:
            raise ActionError("No recipient: give an address or map a contact with an e-mail.")
        try:
            return crm.clean_email(raw)
        except crm.ContactError as exc:
            raise ActionError(str(exc)) from exc

    def run(self, ctx, inputs):
        email = self.recipient(ctx, inputs)
        try:
            channel = messaging.email_channel(ctx.project, str(inputs.get("channel") or ""))
            contact = ctx.contact
            if contact is None or contact.email != email:
                contact = crm.upsert_contact(ctx.project, "", email=email)
            reply_to = crm.reply_address(contact)
            message = messaging.queue_message(
                channel,
                contact,
                body=str(inputs.get("body") or ""),
                subject=" ".join(str(inputs.get("subject") or "").split()),
                reply_to=reply_to,
                optout_list=str(inputs.get("optout_list") or ""),
                idempotency_key=effect_key(ctx, f"whatsmail:{email}"),
            )
        except messaging.MessageRefused as exc:
            return Result(outputs={"to": email, "skipped": exc.message})
        except messaging.MessagingError as exc:
            raise ActionError(exc.message) from exc
        return Result(outputs={"to": email, "reply_to": reply_to, "message": message.pk})

    def dry_run(self, ctx, inputs):
        email = self.recipient(ctx, inputs)
        try:
            channel = messaging.email_channel(ctx.project, str(inputs.get("channel") or ""))
        except messaging.MessagingError as exc:
            raise ActionError(exc.message) from exc
        return not_sent(
            {"simulated": True, "to": email, "channel": channel.name},
            channel=channel.name,
            to=email,
            subject=" ".join(str(inputs.get("subject") or "").split()),
            body=str(inputs.get("body") or ""),
        )
