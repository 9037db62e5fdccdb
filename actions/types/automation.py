"""Automation actions: stop_processing, blacklist, opt-out lists, smart replies."""

from datetime import timedelta

from django import forms

from crm import services as crm

from ..base import ActionConfigForm, ActionError, ActionType, Result
from ..pickers import PickerInput
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
