"""Secrets are write-only: a saved secret is never shown back, in a page or an API answer.

A form shows MASK where a secret is saved. Sending it back unchanged (the mask, or an empty
secret box) keeps the saved value; typing a new value replaces it. Two field shapes share
this: `SecretField`, a secret of its own (the project's ChatGPT key), and `MaskedKeysMixin`,
a JSON object some keys of which are secret (a channel's credentials, an HTTP action's
headers). Exports mask with the same `masked`, and a mask sent where nothing is saved is
refused: an exported connector carries no secret and never imports "••••••" as one.
"""

import json
import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from .json_input import JSONInputField

MASK = "•••••• (saved; type to replace)"
# Names of secret headers, query parameters and settings: Authorization, X-Api-Key, ...
SECRET_NAME = re.compile(
    r"auth|token|secret|password|passwd|api[-_]?key|apikey|signature|cookie|session|credential"
    r"|^key$|[-_]key$",
    re.IGNORECASE,
)
REMOVE_SUFFIX = "-remove"


def is_secret_name(name):
    return bool(SECRET_NAME.search(str(name)))


def is_set(value):
    return value not in (None, "")


def masked(values, is_secret, saved=None):
    """`values` (a JSON object) with MASK for the value of each secret key.

    With `saved`, only values equal to the saved ones are masked: a value the user has
    just typed into a form that comes back with an error is theirs, not a saved secret.
    """
    if not isinstance(values, dict):
        return values
    return {
        key: MASK
        if is_secret(key) and is_set(value) and (saved is None or saved.get(key) == value)
        else value
        for key, value in values.items()
    }


def unmasked(values, saved):
    """`values` (a JSON object) with each MASK replaced by the saved value of its key."""
    if not isinstance(values, dict):
        return values
    saved = saved if isinstance(saved, dict) else {}
    missing = [key for key, value in values.items() if value == MASK and not is_set(saved.get(key))]
    if missing:
        raise ValidationError(
            f"{', '.join(map(str, missing))}: type the value. “{MASK}” stands for a saved "
            "secret, and none is saved here (exports never carry secrets)."
        )
    return {key: saved[key] if value == MASK else value for key, value in values.items()}


class KeepsSavedValue:
    """A form field that reads what the user sent back unchanged as the saved value:
    the form's initial value, which its bound field knows."""

    def get_bound_field(self, form, field_name):
        self.bound_field = super().get_bound_field(form, field_name)
        return self.bound_field

    @property
    def saved(self):
        bound = getattr(self, "bound_field", None)
        return None if bound is None else bound.initial


class Remove:
    """What a secret box sends when its "remove" box is ticked."""


REMOVE = Remove()


class SecretInput(forms.PasswordInput):
    """A secret's box: always empty, with MASK as its placeholder when a value is saved;
    an optional secret has a box to tick to remove the saved value."""

    def __init__(self, attrs=None):
        super().__init__(attrs, render_value=False)

    def get_context(self, name, value, attrs):
        if is_set(value):
            attrs = {**(attrs or {}), "placeholder": MASK}
        return super().get_context(name, value, attrs)

    def render(self, name, value, attrs=None, renderer=None):
        box = super().render(name, value, attrs, renderer)
        if self.is_required or not is_set(value):
            return box
        return format_html(
            '{} <label class="vCheckboxLabel"><input type="checkbox" name="{}"{}> '
            "Remove the saved value</label>",
            box,
            name + REMOVE_SUFFIX,
            " checked" if value is REMOVE else "",
        )

    def value_from_datadict(self, data, files, name):
        if data.get(name + REMOVE_SUFFIX):
            return REMOVE
        return super().value_from_datadict(data, files, name)


class SecretField(KeepsSavedValue, forms.CharField):
    """A secret of its own: empty keeps the saved value, text replaces it, and the
    "remove" box clears it."""

    widget = SecretInput

    def to_python(self, value):
        if value is REMOVE:
            return self.empty_value
        if value in self.empty_values:
            value = self.saved
        return super().to_python(value)

    def bound_data(self, data, initial):
        # A form shown again after an error still says that a value is saved.
        return initial if data in self.empty_values else data


class MaskedKeysMixin(KeepsSavedValue):
    """For a form field holding a JSON object whose keys named by `is_secret` are
    secrets: their saved values are shown as MASK, and a MASK sent back is read as the
    saved value of its key."""

    def __init__(self, *, is_secret=is_secret_name, **kwargs):
        self.is_secret = is_secret
        super().__init__(**kwargs)

    def mask(self, value):
        """`value` as an export or an answer shows it: every secret masked."""
        return masked(value, self.is_secret)

    def shown(self, value):
        """`value` as the form shows it: the saved secrets masked."""
        saved = self.saved if isinstance(self.saved, dict) else {}
        return masked(value, self.is_secret, saved)

    def prepare_value(self, value):
        return super().prepare_value(self.shown(value))

    def to_python(self, value):
        return unmasked(super().to_python(value), self.saved)


class MaskedJSONField(MaskedKeysMixin, JSONInputField):
    """A JSON object edited as text, its secret keys masked."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        # One key a line: each mask reads at a glance.
        return json.dumps(self.shown(value), indent=2, ensure_ascii=False, cls=self.encoder)
