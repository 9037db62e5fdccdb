"""Automation actions: stop_processing, blacklist, opt-out lists, smart replies, sequences."""

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError

from crm import services as crm
from journeys.sequences import services as sequences
from journeys.sequences.models import Sequence
from picky.wording import counted

from ..base import ActionConfigForm, ActionError, ActionType, ProjectNameField, Result
from ..pickers import PickerInput, matching, picker
from ..registry import register
from .crm import (
    UNIT_CHOICES,
    UNITS,
    ContactActionType,
    changed,
    the_contact,
)


@register("stop_processing")
class StopProcessing(ActionType):
    label = "Stop Processing"
    category = "Automation"
    description = "Stop the run here: no further action or step runs."
    form_class = ActionConfigForm

    def run(self, ctx, inputs):
        return Result(stop=True)


# Blacklist, opt-out lists, smart replies (they change the run's contact) ------------------


class ContactFlagType(ContactActionType):
    category = "Automation"


@register("blacklist_add")
class BlacklistAdd(ContactFlagType):
    label = "Blacklist Add"
    description = "Blacklist the contact: no message is sent to it any more."
    form_class = ActionConfigForm

    def run(self, ctx, inputs):
        contact = crm.set_blacklisted(the_contact(ctx), True)
        return changed(ctx, contact, blacklisted=True)


@register("blacklist_remove")
class BlacklistRemove(ContactFlagType):
    label = "Blacklist Remove"
    description = "Take the contact off the blacklist."
    form_class = ActionConfigForm

    def run(self, ctx, inputs):
        contact = crm.set_blacklisted(the_contact(ctx), False)
        return changed(ctx, contact, blacklisted=False)


class OptOutForm(ActionConfigForm):
    list = forms.CharField(
        max_length=100,
        widget=PickerInput("optout_lists"),
        help_text='Opt-out list name, e.g. "Promotions".',
    )


def list_name(inputs):
    name = str(inputs.get("list") or "").strip()
    if not name:
        raise ActionError("The opt-out list name is empty after templating.")
    return name


@register("optout_add")
class OptOutAdd(ContactFlagType):
    label = "Opt-out Add"
    description = "Put the contact on an opt-out list (senders naming it skip the contact)."
    form_class = OptOutForm

    def run(self, ctx, inputs):
        contact = the_contact(ctx)
        optout_list = crm.opt_out(contact, list_name(inputs))
        return changed(ctx, contact, list=optout_list.name)


@register("optout_remove")
class OptOutRemove(ContactFlagType):
    label = "Opt-out Remove"
    description = "Take the contact off an opt-out list."
    form_class = OptOutForm

    def run(self, ctx, inputs):
        contact, name = the_contact(ctx), list_name(inputs)
        removed = crm.opt_in(contact, name)
        return changed(ctx, contact, list=name, removed=removed)


class PauseSmartRepliesForm(ActionConfigForm):
    amount = forms.IntegerField(min_value=1, help_text="Pause for this many units.")
    unit = forms.ChoiceField(
        choices=UNIT_CHOICES, required=False, initial="hours", help_text="Default: hours."
    )


def pause_duration(inputs):
    try:
        amount = int(inputs.get("amount"))
    except (TypeError, ValueError) as exc:
        raise ActionError(f"Amount {inputs.get('amount')!r} is not a whole number.") from exc
    unit = UNITS.get(inputs.get("unit") or "hours")
    if amount < 1 or unit is None:
        raise ActionError("Pause for 1 or more minutes, hours or days.")
    return timedelta(**{unit: amount})


@register("pause_smart_replies")
class PauseSmartReplies(ContactFlagType):
    label = "Pause Smart Replies"
    description = "Stop automatic replies to the contact for some minutes, hours or days."
    form_class = PauseSmartRepliesForm
    literal_fields = ("amount", "unit")

    def run(self, ctx, inputs):
        contact = crm.pause_smart_replies(the_contact(ctx), pause_duration(inputs))
        until = contact.smart_replies_paused_until.isoformat()
        return changed(ctx, contact, paused_until=until)


# Sequences (drip campaigns) -------------------------------------------------------------


@picker("sequences")
def sequence_names(project, term):
    return matching(Sequence.objects.filter(project=project), term)


class SequenceNameField(ProjectNameField):
    """The name of one of the project's sequences, whatever its case."""

    picker = "sequences"

    def check_in_project(self, name, project):
        if sequences.find_sequence(project, name) is None:
            raise ValidationError(sequences.unknown_sequence_message(project, name))


def the_sequence(ctx, inputs):
    name = str(inputs.get("sequence") or "").strip()
    if not name:
        raise ActionError("The sequence name is empty after templating.")
    sequence = sequences.find_sequence(ctx.project, name)
    if sequence is None:
        raise ActionError(sequences.unknown_sequence_message(ctx.project, name))
    return sequence


class SequenceSubscribeForm(ActionConfigForm):
    sequence = SequenceNameField(max_length=100, help_text="The sequence, e.g. Welcome.")
    start_at = forms.IntegerField(
        min_value=1,
        required=False,
        initial=1,
        help_text="Start at this step (1 is the first); the steps before it are not sent.",
    )
    restart = forms.BooleanField(
        required=False,
        help_text="Restart if already subscribed: send the sequence again from the start step. "
        "Without it, a contact who is or was in the sequence is left as they are.",
    )

    def clean(self):
        cleaned = super().clean()
        name, start_at = cleaned.get("sequence"), cleaned.get("start_at")
        if self.project is None or not name or "{{" in name or not start_at or self.errors:
            return cleaned
        steps = sequences.find_sequence(self.project, name.strip()).messages.count()
        if start_at > steps:
            has = f"has {counted(steps, 'step')}: start at 1 to {steps}" if steps else "has no step"
            self.add_error("start_at", f"The sequence {name.strip()!r} {has}.")
        return cleaned


@register("sequence_subscribe")
class SequenceSubscribe(ContactFlagType):
    label = "Sequence Subscribe"
    description = "Subscribe the contact to a sequence: its messages go out at their times."
    form_class = SequenceSubscribeForm
    literal_fields = ("start_at", "restart")

    def run(self, ctx, inputs):
        contact, sequence = the_contact(ctx), the_sequence(ctx, inputs)
        try:
            subscription, planned = sequences.subscribe(
                sequence,
                contact,
                start_at=int(inputs.get("start_at") or 1),
                restart=bool(inputs.get("restart")),
            )
        except sequences.SequenceError as exc:
            raise ActionError(exc.message) from exc
        return Result(
            outputs={
                "sequence": sequence.name,
                "subscribed": planned,
                "status": subscription.status,
                "started_at": subscription.started_at.isoformat(),
            }
        )


class SequenceUnsubscribeForm(ActionConfigForm):
    sequence = SequenceNameField(max_length=100, help_text="The sequence, e.g. Welcome.")


@register("sequence_unsubscribe")
class SequenceUnsubscribe(ContactFlagType):
    label = "Sequence Unsubscribe"
    description = "Take the contact out of a sequence: nothing more of it is sent."
    form_class = SequenceUnsubscribeForm

    def run(self, ctx, inputs):
        contact, sequence = the_contact(ctx), the_sequence(ctx, inputs)
        left = sequences.unsubscribe(sequence, contact)
        return Result(outputs={"sequence": sequence.name, "unsubscribed": left})
