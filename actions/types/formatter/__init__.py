"""Formatter actions: set_variable here; format_date, math, data_parser and line_items in
this package's modules. They compute and touch nothing (Effect.NONE), so a simulation runs
them for real, and their action pages preview them on the connector's sample
(`shows_preview`, actions/preview_admin.py)."""

from django import forms

from ...base import VARIABLE_NAME, ActionConfigForm, ActionType, Result
from ...registry import register
from ..fields import JSONValueField


class SetVariableForm(ActionConfigForm):
    name = forms.RegexField(
        regex=VARIABLE_NAME,
        max_length=100,
        error_messages={"invalid": "Use letters, digits and _ (not starting with a digit)."},
        help_text="Saved as vars.NAME (this name) for later actions.",
    )
    value = JSONValueField(
        help_text="A template ({{ event.x }} keeps the value's type) or any JSON value."
    )


@register("set_variable")
class SetVariable(ActionType):
    label = "Set Variable"
    category = "Formatter"
    description = "Save a templated value to vars.<name> for later actions."
    form_class = SetVariableForm
    literal_fields = ("name",)
    shows_preview = True

    def run(self, ctx, inputs):
        name, value = inputs["name"], inputs.get("value")
        return Result(outputs={"name": name, "value": value}, variables={name: value})


from . import arithmetic, dates, global_variables, line_items, parsing  # noqa: E402, F401 (registers the types)
