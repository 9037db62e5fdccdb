"""Counter actions: named per-project counters, readable as `counters.<name>`."""

from django import forms

from connectors import services as connector_services

from ..base import ActionConfigForm, ActionError, ActionType, Effect, Result
from ..pickers import PickerInput
from ..registry import register


class TriggerCounterForm(ActionConfigForm):
    name = forms.CharField(
        max_length=200,
        widget=PickerInput("counters"),
        help_text="Counter name (templates allowed).",
    )
    amount = forms.IntegerField(required=False, initial=1, help_text="Added each time; default 1.")


def counter_name(inputs):
    name = str(inputs.get("name") or "").strip()
    if not name:
        raise ActionError("The counter name is empty after templating.")
    if len(name) > 200:
        raise ActionError("The counter name is over 200 characters after templating.")
    return name


@register("trigger_counter")
class TriggerCounter(ActionType):
    label = "Trigger Counter"
    category = "Counter"
    description = "Add to a named counter; the new value is `counters.<name>`."
    effect = Effect.SHARED_ROW
    effect_is_one_statement = True  # one INSERT ... ON CONFLICT DO UPDATE
    form_class = TriggerCounterForm
    literal_fields = ("amount",)

    def run(self, ctx, inputs):
        return self.run_later(ctx, inputs)()

    def run_later(self, ctx, inputs):
        name = counter_name(inputs)
        amount = inputs.get("amount")

        def increment():
            value = connector_services.increment_counter(
                ctx.project, name, 1 if amount is None else amount
            )
            ctx.data.setdefault("counters", {})[name] = value
            return Result(outputs={"name": name, "value": value})

        increment.lock_key = ("counter", ctx.project.pk, name)
        return increment


class ResetCounterForm(ActionConfigForm):
    name = forms.CharField(max_length=200, widget=PickerInput("counters"))
    value = forms.IntegerField(required=False, initial=0, help_text="Value after reset; default 0.")


@register("reset_counter")
class ResetCounter(ActionType):
    label = "Reset Counter"
    category = "Counter"
    description = "Set a named counter back to 0 (or a given value)."
    effect = Effect.SHARED_ROW
    form_class = ResetCounterForm
    literal_fields = ("value",)

    def run(self, ctx, inputs):
        name = counter_name(inputs)
        value = connector_services.reset_counter(ctx.project, name, inputs.get("value") or 0)
        ctx.data.setdefault("counters", {})[name] = value
        return Result(outputs={"name": name, "value": value})
