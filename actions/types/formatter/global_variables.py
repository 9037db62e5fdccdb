"""The set_global action: give one of the project's global variables (`globals.<name>`,
picky/global_variables.py) a new value, or add to a number global, under a row lock."""

from django import forms

from picky.global_variables import GlobalValueError, add_to_global, set_global
from picky.models import GlobalVariable, validate_global_name

from ...base import ActionConfigForm, ActionError, ActionType, Effect, Result
from ...pickers import PickerInput, matching, picker
from ...registry import register
from ..fields import JSONValueField
from .numbers import NumberError, read_number


@picker("globals")
def global_names(project, term):
    return matching(GlobalVariable.objects.filter(project=project), term)


class SetGlobalForm(ActionConfigForm):
    name = forms.CharField(
        max_length=100,
        validators=[validate_global_name],
        widget=PickerInput("globals"),
        help_text="The global's name: templates read it as globals.NAME. A new name adds it.",
    )
    operation = forms.ChoiceField(
        choices=[("set", "Set to the value"), ("add", "Add the value (a number global)")],
        initial="set",
        required=False,
        help_text="Add: two runs adding at once both count (the row is locked).",
    )
    value = JSONValueField(
        required=False,
        help_text="A template ({{ event.x }} keeps the value's type) or any JSON value. "
        "A number global takes numbers and numeric text only.",
    )


@register("set_global")
class SetGlobal(ActionType):
    label = "Set Global Variable"
    category = "Formatter"
    description = "Set a project-wide global variable (globals.<name>) or add to a number one."
    effect = Effect.SHARED_ROW
    form_class = SetGlobalForm
    literal_fields = ("name", "operation")

    def run(self, ctx, inputs):
        name, value = inputs["name"], inputs.get("value")
        try:
            if inputs.get("operation") == "add":
                value = add_to_global(ctx.project, name, read_number(value, "The amount to add"))
            else:
                value = set_global(ctx.project, name, value)
        except (GlobalValueError, NumberError) as exc:
            raise ActionError(str(exc), permanent=True) from exc
        # The namespace is the process's shared copy: this run gets a new dict.
        ctx.data["globals"] = {**ctx.data.get("globals", {}), name: value}
        return Result(outputs={"name": name, "value": value})
