"""Attribute actions: set or clear one attribute of the run's contact."""

from django import forms

from crm import services as crm

from ..base import ActionConfigForm, ActionError
from ..registry import register
from .crm import ContactActionType, changed, the_contact
from .fields import JSONValueField


class SetAttributeForm(ActionConfigForm):
    name = forms.CharField(max_length=100, help_text="Attribute name, e.g. city.")
    value = JSONValueField(
        required=False,
        help_text="The value: text with templates, a number, a list or an object. "
        "A template that is one {{ path }} keeps the value's type.",
    )


def attribute_name(inputs):
    name = str(inputs.get("name") or "").strip()
    if not name:
        raise ActionError("The attribute name is empty after templating.")
    if len(name) > 100:
        raise ActionError("The attribute name is over 100 characters after templating.")
    return name


@register("set_attribute")
class SetAttribute(ContactActionType):
    label = "Set Attribute"
    category = "Attributes"
    description = "Set one attribute of the contact (contact.attributes.<name>)."
    form_class = SetAttributeForm

    def run(self, ctx, inputs):
        contact = the_contact(ctx)
        name = attribute_name(inputs)
        crm.set_attribute(contact, name, inputs.get("value"))
        return changed(ctx, contact, name=name, value=inputs.get("value"))


class ClearAttributeForm(ActionConfigForm):
    name = forms.CharField(max_length=100, help_text="Attribute name to remove.")


@register("clear_attribute")
class ClearAttribute(ContactActionType):
    label = "Clear Attribute"
    category = "Attributes"
    description = "Remove one attribute from the contact."
    form_class = ClearAttributeForm

    def run(self, ctx, inputs):
        contact = the_contact(ctx)
        name = attribute_name(inputs)
        cleared = crm.clear_attribute(contact, name)
        return changed(ctx, contact, name=name, cleared=cleared)
