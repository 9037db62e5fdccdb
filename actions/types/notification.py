"""Notification actions: send_email, route_connector (and the messaging ones)."""

from django import forms
from django.conf import settings
from django.core.mail import EmailMessage

from connectors import services as connector_services

from ..base import ActionConfigForm, ActionError, ActionType, Result
from ..registry import register
from .fields import TemplatedEmailListField

MAX_ROUTING_HOPS = 10


class SendEmailForm(ActionConfigForm):
    to = TemplatedEmailListField(max_items=10, help_text="Up to 10 addresses (templates allowed).")
    subject = forms.CharField(max_length=500)
    body = forms.CharField(widget=forms.Textarea)
    reply_to = forms.CharField(required=False, max_length=254)
    html = forms.BooleanField(required=False, help_text="Send the body as HTML.")


@register("send_email")
class SendEmail(ActionType):
    label = "Send Email"
    category = "Notification"
    description = "Send an email with a templated subject and body."
    has_outside_effects = True
    form_class = SendEmailForm

    def run(self, ctx, inputs):
        recipients, invalid = TemplatedEmailListField.rendered_addresses(inputs.get("to"))
        if not recipients:
            raise ActionError(
                "No valid recipient address after templating"
                + (f" (not addresses: {', '.join(invalid)})." if invalid else ".")
            )
        if len(recipients) > 10:
            raise ActionError(f"{len(recipients)} recipients; at most 10 are allowed.")
        message = EmailMessage(
            subject=" ".join(str(inputs.get("subject", "")).split()),
            body=str(inputs.get("body", "")),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=recipients,
            reply_to=[inputs["reply_to"]] if inputs.get("reply_to") else None,
        )
        if inputs.get("html"):
            message.content_subtype = "html"
        try:
            message.send()
        except Exception as exc:
            raise ActionError(f"Email could not be sent: {exc}", permanent=False) from exc
        return Result(outputs={"to": recipients, "skipped": invalid, "subject": message.subject})

    def dry_run(self, ctx, inputs):
        recipients, invalid = TemplatedEmailListField.rendered_addresses(inputs.get("to"))
        return Result(outputs={"simulated": True, "to": recipients, "skipped": invalid})


class RouteConnectorForm(ActionConfigForm):
    connector = forms.CharField(
        max_length=200, help_text="Name of the connector (same project) that gets the payload."
    )


@register("route_connector")
class RouteConnector(ActionType):
    label = "Route to Connector"
    category = "Notification"
    description = "Send the current payload to another connector of this project."
    has_outside_effects = True
    form_class = RouteConnectorForm

    def run(self, ctx, inputs):
        name = inputs["connector"]
        target = connector_services.connector_by_name(ctx.project, name)
        if target is None:
            raise ActionError(f"No connector named {name!r} in this project.")
        hop = int(ctx.data.get("meta", {}).get("hop_count") or 0) + 1
        if hop >= MAX_ROUTING_HOPS:
            raise ActionError(
                f"Routing loop: the payload has been routed {hop} times; stopped at "
                f"{MAX_ROUTING_HOPS} hops."
            )
        if not target.enabled:
            raise ActionError(f"Connector {name!r} is disabled.")
        event = connector_services.route_event(target, ctx.data.get("event") or {}, hop)
        return Result(outputs={"connector": target.name, "event": event.pk, "hop": hop})
