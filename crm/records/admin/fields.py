"""Form fields of the module builder: choices one per line, field keys made from labels."""

import re

from django import forms
from django.utils.text import slugify

from ..models import RESERVED_KEYS

KEY_LENGTH = 50


class LinesField(forms.CharField):
    """A list of texts typed one per line (a field's choices)."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 18, "placeholder": "one choice per line"})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value):
        lines = (line.strip() for line in (super().to_python(value) or "").splitlines())
        return list(dict.fromkeys(line for line in lines if line))


def key_from_label(label, taken=()):
    """A field key from its label ("Date of birth" → "date_of_birth"), not one of `taken`."""
    base = re.sub(r"[^a-z0-9]+", "_", slugify(label)).strip("_")
    if not base or not base[0].isalpha():
        base = f"field_{base}".rstrip("_")
    if base in RESERVED_KEYS:
        # "Name" is the record's own attribute: the field is "name_field".
        base = f"{base}_field"
    base = base[:KEY_LENGTH].rstrip("_")
    key, number = base, 2
    while key in taken:
        suffix = f"_{number}"
        key = f"{base[: KEY_LENGTH - len(suffix)]}{suffix}"
        number += 1
    return key
