"""Funnel actions: put a record at a stage of a funnel (funnel_add) or take it out
(funnel_remove). Each move is a row of the funnel's history and a line of the record's
timeline (crm's funnel services write both).

The funnel and its stage are named, the record is given by its id (a template such as
{{ vars.deal.id }}); a funnel or stage the project does not have is refused on save and
when the action runs. They write Picky's own database only (Effect.DATABASE).
"""

from django import forms
from django.core.exceptions import ValidationError

from crm.records import funnels
from crm.records import services as records
from crm.records.models import Funnel
from picky.templating import to_text

from ..base import ActionConfigForm, ActionError, ActionType, Effect, ProjectNameField, Result
from ..pickers import matching, picker
from ..registry import register
from .modules import boxed, literal


class FunnelNameField(ProjectNameField):
    """The name of one of the project's funnels, whatever its case."""

    picker = "funnels"

    def check_in_project(self, name, project):
        if funnels.find_funnel(project, name) is None:
            raise ValidationError(funnels.unknown_funnel_message(project, name))


@picker("funnels")
def funnel_names(project, term):
    return matching(Funnel.objects.filter(module__project=project), term)


class FunnelForm(ActionConfigForm):
    funnel = FunnelNameField(max_length=100, help_text="The funnel's name, e.g. Sales pipeline.")
    record = forms.CharField(
        max_length=200,
        help_text="The record's id, e.g. {{ vars.deal.id }} or {{ event.record.id }}.",
    )

    def saved_funnel(self, cleaned):
        """The funnel the config names, when the project and the name are known on save."""
        name = cleaned.get("funnel")
        if self.project is None or not name or not literal(name) or "funnel" in self.errors:
            return None
        return funnels.find_funnel(self.project, name.strip())


class FunnelAddForm(FunnelForm):
    stage = forms.CharField(max_length=100, help_text="The stage to put the record at.")
    unless_present = forms.BooleanField(
        required=False,
        label="Don't add the record if it is already in the funnel",
        help_text="Leave a record that is in the funnel at its stage (otherwise it moves).",
    )
    field_order = ["funnel", "stage", "record", "unless_present"]

    def clean(self):
        cleaned = super().clean()
        funnel = self.saved_funnel(cleaned)
        stage = cleaned.get("stage")
        if funnel is not None and stage and literal(stage):
            try:
                funnels.find_stage(funnel, stage)
            except records.RecordError as exc:
                self.add_error("stage", exc.message)
        return cleaned


def funnel_for(ctx, inputs):
    name = to_text(inputs.get("funnel")).strip()
    funnel = funnels.find_funnel(ctx.project, name) if name else None
    if funnel is None:
        raise ActionError(funnels.unknown_funnel_message(ctx.project, name))
    return funnel


def record_in(funnel, inputs):
    """The record of the funnel's module whose id the inputs give, or an ActionError."""
    given = to_text(inputs.get("record")).strip()
    if not given:
        raise ActionError("The record id came out empty (the event has no value for it).")
    if not given.isdigit():
        raise ActionError(f"The record id {given!r} is not a number.")
    try:
        return records.find_record(funnel.module, given)
    except records.RecordError as exc:
        raise ActionError(f"{exc.message} The funnel {funnel} holds its records.") from exc


class FunnelActionType(ActionType):
    category = "Funnel"
    effect = Effect.DATABASE
    literal_fields = ("unless_present",)


@register("funnel_add")
class FunnelAdd(FunnelActionType):
    label = "Add to Funnel"
    description = "Put a record at a stage of a funnel (or move it there)."
    form_class = FunnelAddForm

    def run(self, ctx, inputs):
        funnel = funnel_for(ctx, inputs)
        record = record_in(funnel, inputs)
        try:
            placement = funnels.add_to_funnel(
                funnel,
                record,
                to_text(inputs.get("stage")),
                unless_present=boxed(inputs, "unless_present"),
            )
        except records.RecordError as exc:
            raise ActionError(exc.message) from exc
        return Result(
            outputs={"funnel": funnel.name, "record_id": record.pk, "stage": placement.stage.name}
        )


@register("funnel_remove")
class FunnelRemove(FunnelActionType):
    label = "Remove from Funnel"
    description = "Take a record out of a funnel."
    form_class = FunnelForm

    def run(self, ctx, inputs):
        funnel = funnel_for(ctx, inputs)
        record = record_in(funnel, inputs)
        removed = funnels.remove_from_funnel(funnel, record)
        return Result(outputs={"funnel": funnel.name, "record_id": record.pk, "removed": removed})
