"""Automation actions: stop_processing, blacklist, opt-out lists, smart replies."""

from ..base import ActionConfigForm, ActionType, Result
from ..registry import register


@register("stop_processing")
class StopProcessing(ActionType):
    label = "Stop Processing"
    category = "Automation"
    description = "Stop the run here: no further action or step runs."
    form_class = ActionConfigForm

    def run(self, ctx, inputs):
        return Result(stop=True)
