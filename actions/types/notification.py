"""Notification actions: send_email, route_connector (and the messaging ones)."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage

from connectors import services as connector_services
from crm import services as crm
from picky.json_input import JSONInputField
from teambox import broadcasts
from teambox import channels as adapters
from teambox import services as messaging

from ..base import ActionConfigForm, ActionError, ActionType, Effect, Result, not_sent
from ..pickers import PickerInput
from ..registry import register
from .crm import NameListField
from .fields import ChannelNameField, RowsInput, TemplatedEmailListField, TextListField

MAX_ROUTING_HOPS = 10
SKIP, FAIL = "skip", "fail"


def if_no_recipient_field():
    return forms.ChoiceField(
        choices=[
            (SKIP, "Skip this message with a warning in the run's log (the run goes on)"),
            (FAIL, "Fail, as any error does (the fallback option says what follows)"),
        ],
        required=False,
        label="If there is no recipient",
        help_text="When every recipient is empty, e.g. a lead without a phone number.",
    )


def action_title(ctx, action_type):
    """How a message to the user names the action: its own name, else its type's label."""
    return getattr(ctx.action, "name", "") or action_type.label


def without_recipient(ctx, inputs, action_type, noun, outputs):
    """The Result of a message whose recipients all came out empty: skipped with a warning,
    or, when the action says so, an ActionError. `noun`: what the lead lacks."""
    message = (
        f"This lead has no {noun}, so the {action_type.message_noun} "
        f'"{action_title(ctx, action_type)}" was not sent.'
    )
    if inputs.get("if_no_recipient") == FAIL:
        raise ActionError(message)
    return Result(outputs=outputs, skipped_because=message)


class SendEmailForm(ActionConfigForm):
    to = TemplatedEmailListField(max_items=10, help_text="Up to 10 addresses (templates allowed).")
    subject = forms.CharField(max_length=500)
    body = forms.CharField(widget=forms.Textarea)
    reply_to = forms.CharField(required=False, max_length=254)
    html = forms.BooleanField(required=False, help_text="Send the body as HTML.")
    if_no_recipient = if_no_recipient_field()


@register("send_email")
class SendEmail(ActionType):
    label = "Send Email"
    category = "Notification"
    description = "Send an email with a templated subject and body."
    effect = Effect.OUTSIDE
    form_class = SendEmailForm
    message_noun = "e-mail"

    def without_recipient(self, ctx, inputs):
        """The Result when every address came out empty, else None."""
        valid, invalid = TemplatedEmailListField.rendered_addresses(inputs.get("to"))
        if valid or invalid:
            return None
        outputs = {"to": [], "skipped": [], "subject": str(inputs.get("subject", ""))}
        return without_recipient(ctx, inputs, self, "e-mail address", outputs)

    def message(self, inputs):
        """(the EmailMessage of rendered `inputs`, the addresses skipped as not valid)."""
        recipients, invalid = TemplatedEmailListField.rendered_addresses(inputs.get("to"))
        if not recipients:
            listed = ", ".join(repr(address) for address in invalid)
            verb = "is not an e-mail address" if len(invalid) == 1 else "are not e-mail addresses"
            raise ActionError(f"No e-mail was sent: {listed} {verb}.")
        if len(recipients) > 10:
            raise ActionError(
                f"No e-mail was sent: it has {len(recipients)} recipients, and one e-mail goes "
                "to 10 at most."
            )
        message = EmailMessage(
            subject=" ".join(str(inputs.get("subject", "")).split()),
            body=str(inputs.get("body", "")),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=recipients,
            reply_to=[inputs["reply_to"]] if inputs.get("reply_to") else None,
        )
        if inputs.get("html"):
            message.content_subtype = "html"
        return message, invalid

    def run(self, ctx, inputs):
        if (skipped := self.without_recipient(ctx, inputs)) is not None:
            return skipped
        message, invalid = self.message(inputs)
        try:
            message.send()
        except Exception as exc:
            raise ActionError(
                f'The e-mail "{action_title(ctx, self)}" was not sent: the mail server could not '
                f"be reached or refused it ({exc}).",
                permanent=False,
            ) from exc
        return Result(outputs={"to": message.to, "skipped": invalid, "subject": message.subject})

    def dry_run(self, ctx, inputs):
        if (skipped := self.without_recipient(ctx, inputs)) is not None:
            return skipped
        message, invalid = self.message(inputs)
        return not_sent(
            {"simulated": True, "to": message.to, "skipped": invalid, "subject": message.subject},
            to=message.to,
            reply_to=message.reply_to,
            subject=message.subject,
            body=message.body,
            html=message.content_subtype == "html",
        )


class RouteConnectorForm(ActionConfigForm):
    connector = forms.CharField(
        max_length=200,
        widget=PickerInput("connectors"),
        help_text="Name of the connector (same project) that gets the payload.",
    )


@register("route_connector")
class RouteConnector(ActionType):
    label = "Route to Connector"
    category = "Notification"
    description = "Send the current payload to another connector of this project."
    effect = Effect.OUTSIDE
    form_class = RouteConnectorForm

    def target(self, ctx, inputs):
        """(the connector the payload goes to, the hop it makes)."""
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
            raise ActionError(
                f"The connector {name!r} is disabled, so the event was not passed on."
            )
        return target, hop

    def run(self, ctx, inputs):
        target, hop = self.target(ctx, inputs)
        event = connector_services.route_event(target, ctx.data.get("event") or {}, hop)
        return Result(outputs={"connector": target.name, "event": event.pk, "hop": hop})

    def dry_run(self, ctx, inputs):
        target, hop = self.target(ctx, inputs)
        payload = ctx.data.get("event") or {}
        return not_sent(
            {"simulated": True, "connector": target.name, "event": None, "hop": hop},
            connector=target.name,
            payload=payload,
        )


# Messaging: send_message, broadcast ------------------------------------------------------

MAX_RECIPIENTS = 100


class RecipientListField(TextListField):
    """Numbers (or e-mail addresses for e-mail channels): a list or a comma-separated text."""

    item_noun = "numbers"

    def validate(self, value):
        if not value:
            raise ValidationError("Give at least one recipient, e.g. {{ contact.number }}.")
        if len(value) > MAX_RECIPIENTS:
            raise ValidationError(f"At most {MAX_RECIPIENTS} recipients; {len(value)} given.")
        for item in value:
            if "{{" in item or "@" in item:
                continue
            try:
                crm.clean_number(item)
            except crm.ContactError as exc:
                raise ValidationError(str(exc)) from exc


class TemplateParamsField(forms.Field):
    rows = "list"

    def to_python(self, value):
        if value in (None, ""):
            return []
        if not isinstance(value, list):
            raise ValidationError('Give a list of values, e.g. ["{{ contact.name }}", "42"].')
        return value


class MessageContentForm(ActionConfigForm):
    channel = ChannelNameField(max_length=100, help_text="Name of a channel of this project.")
    text = forms.CharField(
        required=False, widget=forms.Textarea, help_text="The message; templates allowed."
    )
    media_url = forms.CharField(
        required=False, max_length=1000, help_text="Optional image, video, audio or document URL."
    )
    template = forms.CharField(
        required=False,
        max_length=200,
        widget=PickerInput("whatsapp_templates"),
        help_text="Approved WhatsApp template name; needed on official numbers when the "
        "contact has not written in the last 24 hours. Choosing one sets its language and "
        "a value box per parameter.",
    )
    template_language = forms.CharField(required=False, max_length=20, initial="en")
    template_params = TemplateParamsField(
        required=False, help_text="The template's body values, in order."
    )
    optout_list = forms.CharField(
        required=False,
        max_length=100,
        widget=PickerInput("optout_lists"),
        help_text="Skip contacts on this opt-out list.",
    )

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("text") or cleaned.get("media_url") or cleaned.get("template")):
            raise ValidationError("Give a text, a media URL or a template.")
        return cleaned


class SendMessageForm(MessageContentForm):
    to = RecipientListField(
        help_text='Numbers with country code: ["{{ contact.number }}", "919847012345"].'
    )
    subject = forms.CharField(required=False, max_length=300, help_text="E-mail channels only.")
    internal = forms.BooleanField(
        required=False,
        label="Internal notification",
        help_text="Do not add the recipients as contacts: for messages to your team. A "
        "message to a project member's phone number or e-mail address never adds them.",
    )
    if_no_recipient = if_no_recipient_field()


def effect_key(ctx, suffix):
    """Keys a message to (run, step, action, iteration) so a re-run does not repeat it. A
    resumed run keys its messages as the run it resumes: one that run queued before its
    action failed is not queued twice."""
    if ctx.run is None:
        return None
    run = ctx.run.resume_of_id or ctx.run.pk
    step = getattr(ctx.step, "pk", "")
    action = getattr(ctx.action, "pk", "")
    return f"run{run}:step{step}:action{action}:iter{ctx.iteration}:{suffix}"[:200]


def messaging_channel(ctx, inputs):
    try:
        return messaging.channel_named(ctx.project, inputs.get("channel"))
    except messaging.MessagingError as exc:
        raise ActionError(exc.message) from exc


def checked_media_url(inputs):
    url = str(inputs.get("media_url") or "").strip()
    if url and not url.lower().startswith(("http://", "https://")):
        raise ActionError(
            f"The media URL {url!r} is not a web address (one starting with https://)."
        )
    return url


def recipient_addresses(inputs):
    # The same flattening as tag names: a "{{ event.phones }}" hole may give a list.
    addresses = crm.clean_names(inputs.get("to"))
    if len(addresses) > MAX_RECIPIENTS:
        raise ActionError(
            f"No message was sent: {len(addresses)} recipients, and one action sends to "
            f"{MAX_RECIPIENTS} at most (use a Broadcast for more)."
        )
    return addresses


@register("send_message")
class SendMessage(ActionType):
    label = "Send Message"
    category = "Notification"
    description = "Send a WhatsApp (or channel) message to one or more numbers: one per number."
    effect = Effect.OUTSIDE
    effect_is_idempotent = True  # its idempotency key (effect_key)
    form_class = SendMessageForm
    message_noun = "message"

    def without_recipient(self, ctx, inputs, channel):
        """The Result when every recipient came out empty, else None."""
        if recipient_addresses(inputs):
            return None
        email = adapters.adapter_for(channel).address_kind == "email"
        outputs = {"channel": channel.name, "sent": 0, "messages": [], "skipped": []}
        noun = "e-mail address" if email else "phone number"
        return without_recipient(ctx, inputs, self, noun, outputs)

    def plan(self, ctx, inputs, channel, create):
        """([(address, contact)], [skipped]) for the recipients; writes contacts if `create`.
        A project member, or anyone when the message is an internal notification, gets no
        contact (None)."""
        email = adapters.adapter_for(channel).address_kind == "email"
        internal = inputs.get("internal") is True
        members = set() if internal else crm.member_addresses(ctx.project)
        targets, invalid, refused, seen = [], [], [], set()
        for address in recipient_addresses(inputs):
            try:
                address = crm.clean_email(address) if email else crm.clean_number(address)
            except crm.ContactError as exc:
                invalid.append({"to": address, "reason": str(exc)})
                continue
            if address in seen:
                continue
            seen.add(address)
            current = ctx.contact
            if current is not None and address in (current.email, current.number):
                contact = current
            elif internal or address in members:
                contact = None
            elif create:
                contact = crm.upsert_contact(
                    ctx.project, "" if email else address, email=address if email else ""
                )
            else:
                contact = crm.find_contact(
                    ctx.project, number="" if email else address, email=address if email else ""
                )
            reason = crm.refusal_reason(contact, inputs.get("optout_list")) if contact else ""
            if reason:
                refused.append({"to": address, "reason": reason})
            else:
                targets.append((address, contact))
        if not targets and not refused:
            raise ActionError(
                f'The {self.message_noun} "{action_title(ctx, self)}" was not sent: '
                + " ".join(s["reason"] for s in invalid)
            )
        if channel.is_official and not inputs.get("template") and targets:
            known = [contact.pk for _, contact in targets if contact is not None]
            in_session = messaging.contacts_in_session(channel, known)
            unknown = [address for address, contact in targets if contact is None]
            open_addresses = messaging.addresses_in_session(channel, unknown)
            closed = [
                address
                for address, contact in targets
                if (contact.pk not in in_session if contact else address not in open_addresses)
            ]
            if closed:
                raise ActionError(
                    f"No message from {', '.join(closed)} on {channel.name!r} in the last 24 "
                    "hours, so WhatsApp only accepts a template: choose an approved template. "
                    "Nothing was sent."
                )
        return targets, invalid + refused

    def run(self, ctx, inputs):
        channel = messaging_channel(ctx, inputs)
        media_url = checked_media_url(inputs)
        if (skipped := self.without_recipient(ctx, inputs, channel)) is not None:
            return skipped
        try:
            messaging.check_content(channel, inputs.get("text"), media_url, inputs.get("template"))
            targets, skipped = self.plan(ctx, inputs, channel, create=True)
            sent = []
            for address, contact in targets:
                message = messaging.queue_message(
                    channel,
                    contact,
                    address=address,
                    body=str(inputs.get("text") or ""),
                    media_url=media_url,
                    template=str(inputs.get("template") or ""),
                    template_language=str(inputs.get("template_language") or "en"),
                    template_params=[str(v) for v in inputs.get("template_params") or []],
                    subject=str(inputs.get("subject") or ""),
                    optout_list=str(inputs.get("optout_list") or ""),
                    idempotency_key=effect_key(ctx, address),
                )
                sent.append({"to": address, "message": message.pk, "status": message.status})
        except messaging.MessagingError as exc:
            raise ActionError(exc.message) from exc
        return Result(
            outputs={
                "channel": channel.name,
                "sent": len(sent),
                "messages": sent,
                "skipped": skipped,
            }
        )

    def dry_run(self, ctx, inputs):
        channel = messaging_channel(ctx, inputs)
        media_url = checked_media_url(inputs)
        if (skipped := self.without_recipient(ctx, inputs, channel)) is not None:
            return skipped
        try:
            messaging.check_content(channel, inputs.get("text"), media_url, inputs.get("template"))
        except messaging.MessagingError as exc:
            raise ActionError(exc.message) from exc
        targets, skipped = self.plan(ctx, inputs, channel, create=False)
        addresses = [address for address, _ in targets]
        content = {
            key: inputs[key]
            for key in ("subject", "media_url", "template", "template_language", "template_params")
            if inputs.get(key) not in (None, "", [])
        }
        return not_sent(
            {
                "simulated": True,
                "channel": channel.name,
                "would_send": addresses,
                "skipped": skipped,
            },
            channel=channel.name,
            to=addresses,
            text=str(inputs.get("text") or ""),
            **content,
        )


class BroadcastForm(MessageContentForm):
    name = forms.CharField(required=False, max_length=200, help_text="Shown in the admin.")
    tags = NameListField(
        required=False,
        widget=PickerInput("tags", multiple=True),
        help_text="Contacts with any of these tags.",
    )
    categories = NameListField(
        required=False,
        widget=PickerInput("categories", multiple=True),
        help_text="Contacts in any of these categories.",
    )
    attributes = JSONInputField(
        required=False,
        widget=RowsInput("map"),
        help_text='Contacts whose attributes equal these: {"state": "Kerala"}.',
    )
    interacted_within_hours = forms.FloatField(
        required=False, min_value=0.1, help_text="Contacts who wrote within this many hours."
    )
    batch_size = forms.IntegerField(
        required=False, min_value=10, max_value=1000, help_text="Messages per batch (default 200)."
    )

    def clean_attributes(self):
        value = self.cleaned_data.get("attributes")
        if value not in (None, "") and not isinstance(value, dict):
            raise ValidationError('Give an object: {"attribute": "value"}.')
        return value


@register("broadcast")
class BroadcastAction(ActionType):
    label = "Broadcast"
    category = "Notification"
    description = (
        "Send one message to a segment of the project's contacts, in batches, respecting "
        "the blacklist, opt-outs and the channel's daily cap. {{ contact.* }} is each recipient."
    )
    effect = Effect.OUTSIDE
    effect_is_idempotent = True  # its idempotency key (effect_key)
    form_class = BroadcastForm
    # Rendered per recipient when the batch sends them, so {{ contact.name }} is theirs.
    literal_fields = ("text", "media_url", "template_params")

    def segment(self, inputs):
        return {
            key: inputs[key]
            for key in ("tags", "categories", "attributes", "interacted_within_hours")
            if inputs.get(key) not in (None, "", [], {})
        }

    def run(self, ctx, inputs):
        channel = messaging_channel(ctx, inputs)
        snapshot = {key: value for key, value in ctx.data.items() if key != "contact"}
        name = str(inputs.get("name") or "").strip() or f"Broadcast from {ctx.connector or 'a run'}"
        try:
            broadcast = broadcasts.create_broadcast(
                channel,
                name=name,
                segment=self.segment(inputs),
                optout_list=str(inputs.get("optout_list") or ""),
                body=str(inputs.get("text") or ""),
                media_url=str(inputs.get("media_url") or ""),
                template=str(inputs.get("template") or ""),
                template_language=str(inputs.get("template_language") or "en"),
                template_params=inputs.get("template_params") or [],
                context=snapshot,
                batch_size=inputs.get("batch_size"),
                idempotency_key=effect_key(ctx, "broadcast"),
            )
            if broadcast.status == broadcast.Status.DRAFT:
                broadcast = broadcasts.start_broadcast(broadcast)
        except messaging.MessagingError as exc:
            raise ActionError(exc.message) from exc
        return Result(
            outputs={
                "broadcast": broadcast.pk,
                "name": broadcast.name,
                "status": broadcast.status,
                "recipients": broadcast.total - broadcast.skipped,
                "skipped": broadcast.skipped,
            }
        )

    def dry_run(self, ctx, inputs):
        channel = messaging_channel(ctx, inputs)
        segment = self.segment(inputs)
        errors = broadcasts.segment_errors(segment)
        if errors:
            raise ActionError("; ".join(f"{key}: {message}" for key, message in errors))
        contacts = crm.segment_contacts(
            ctx.project,
            tags=segment.get("tags") or (),
            categories=segment.get("categories") or (),
            attributes=segment.get("attributes"),
            interacted_within_hours=segment.get("interacted_within_hours"),
        )
        reachable = crm.messageable(contacts, inputs.get("optout_list"))
        recipients = reachable.count()
        content = {
            key: inputs[key]
            for key in ("media_url", "template", "template_language", "template_params")
            if inputs.get(key) not in (None, "", [])
        }
        return not_sent(
            {
                "simulated": True,
                "channel": channel.name,
                "segment": contacts.count(),
                "recipients": recipients,
            },
            channel=channel.name,
            segment=segment,
            recipients=recipients,
            # Rendered for each recipient when the broadcast sends: shown as written.
            text=str(inputs.get("text") or ""),
            **content,
        )
