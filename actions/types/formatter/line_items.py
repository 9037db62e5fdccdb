"""The line_items action: a list (an order's `line_items`) written as text lines with a
per-item template, counted, and totalled over chosen fields in Decimal (money as strings,
"12.50", adds up); or a list made of comma-separated values."""

from decimal import DecimalException
from decimal import localcontext as local_decimal_context

from django import forms

from picky.templating import TemplateSyntaxError, compile_path, render, resolve, to_text

from ...base import ActionConfigForm, ActionError, ActionType, Result
from ...registry import register
from ..fields import JSONValueField, TextListField
from .numbers import CONTEXT, NumberError, as_json_number, as_text, read_number
from .parsing import ESCAPES

MAX_ITEMS = 10_000


class LineItemsForm(ActionConfigForm):
    items = JSONValueField(
        help_text=(
            "The list ({{ event.line_items }}); to make a list of text, comma-separated "
            "values (red, green, blue)."
        ),
    )
    mode = forms.ChoiceField(
        choices=[("lines", "Write each item as a line"), ("from_text", "Make a list of a text")],
        required=False,
        help_text="Default: write each item as a line.",
    )
    line = forms.CharField(
        required=False,
        max_length=2000,
        help_text=(
            "Each item's line: {{ item.quantity }} × {{ item.name }} ({{ index }} counts from "
            "0; every other namespace too). Default: the item itself."
        ),
    )
    separator = forms.CharField(
        required=False,
        max_length=20,
        strip=False,
        help_text="Between lines (default a new line, \\n); for a text, between values "
        "(default a comma).",
    )
    totals = TextListField(
        required=False,
        help_text="Fields of each item to total (price, quantity); an item without one adds 0.",
    )

    def clean_totals(self):
        fields = self.cleaned_data["totals"]
        for field in fields:
            try:
                compile_path(field)
            except TemplateSyntaxError:
                raise forms.ValidationError(
                    f'{field!r} is not a field path; quote a name with spaces: "unit price".'
                ) from None
        return fields


@register("line_items")
class LineItems(ActionType):
    label = "Line Items"
    category = "Formatter"
    description = (
        "Write a list's items as lines (`text`, `lines`), count them (`count`) and total chosen "
        "fields (`totals`); or make a list of comma-separated values (`items`)."
    )
    form_class = LineItemsForm
    literal_fields = ("mode", "line", "separator", "totals")
    shows_preview = True

    def run(self, ctx, inputs):
        items, separator = inputs.get("items"), inputs.get("separator")
        separator = ESCAPES.get(separator, separator) if separator else None
        if inputs.get("mode") == "from_text":
            values = list_of_text(items, separator or ",")
            return Result(outputs={"items": values, "count": len(values)})
        items = as_list(items)
        lines = [line_of(ctx, inputs.get("line"), item, index) for index, item in enumerate(items)]
        totals = {field: total(items, field) for field in inputs.get("totals") or []}
        return Result(
            outputs={
                "text": (separator or "\n").join(lines),
                "lines": lines,
                "count": len(items),
                "totals": {field: as_json_number(value) for field, value in totals.items()},
                "totals_text": {field: as_text(value) for field, value in totals.items()},
            }
        )


def as_list(value):
    if value in (None, ""):
        return []  # an order without line items
    if isinstance(value, dict):
        return [value]  # one item sent as an object
    if not isinstance(value, list):
        raise ActionError(f"The items are {to_text(value)[:60]!r}, not a list.")
    if len(value) > MAX_ITEMS:
        raise ActionError(f"The list has {len(value)} items; at most {MAX_ITEMS} are written.")
    return value


def list_of_text(value, separator):
    if isinstance(value, list):
        return value
    return [part.strip() for part in to_text(value).split(separator) if part.strip()]


def line_of(ctx, template, item, index):
    if not template:
        return to_text(item)
    return render(template, {**ctx.data, "item": item, "index": index})


def total(items, field):
    """The sum of `field` (a path in each item) over `items`; a missing or empty one adds 0."""
    with local_decimal_context(CONTEXT):
        result = read_number(0)
        for index, item in enumerate(items):
            value = resolve(field, item) if isinstance(item, dict) else None
            if value in (None, ""):
                continue
            try:
                result += read_number(value, f"{field} of item {index + 1}")
            except NumberError as exc:
                raise ActionError(f"Cannot total {field}: {exc}") from None
            except DecimalException:
                raise ActionError(f"The total of {field} is too large.") from None
        return result
