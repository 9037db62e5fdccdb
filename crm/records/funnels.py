"""Funnels: a record sits in a funnel at one stage (FunnelPlacement); every entry, move
and exit is a FunnelMove row (from, to, who, when) and a line on the record's timeline."""

from django.db import IntegrityError, transaction

from picky.models import Project
from picky.names import name_is
from picky.wording import listed

from .models import Funnel, FunnelMove, FunnelPlacement, FunnelStage, RecordEntry
from .values import RecordError


def find_funnel(module_or_project, name):
    """The funnel named `name` (whatever its case) of a module, or of any module of a
    project; None when there is none."""
    name = str(name or "").strip()
    funnels = Funnel.objects.filter(name_is(name)).select_related("module")
    if isinstance(module_or_project, Project):
        return funnels.filter(module__project=module_or_project).order_by("pk").first()
    return funnels.filter(module=module_or_project).first()


def unknown_funnel_message(project, name):
    names = Funnel.objects.filter(module__project=project).order_by("name")
    return f"There is no funnel “{name}”. " + listed(
        names.values_list("name", flat=True), "funnels", "add one under CRM › Funnels"
    )


def find_stage(funnel, stage):
    """`stage` (a FunnelStage or a name, whatever its case) of `funnel`, or RecordError
    naming the funnel's stages."""
    if isinstance(stage, FunnelStage):
        if stage.funnel_id != funnel.pk:
            raise RecordError(f"“{stage}” is not a stage of {funnel}.", field="stage")
        return stage
    name = str(stage or "").strip()
    found = funnel.stages.filter(name_is(name)).first()
    if found is None:
        raise RecordError(
            f"{funnel} has no stage “{name}”. "
            + listed(funnel.stages.values_list("name", flat=True), "stages", "add it first"),
            field="stage",
        )
    return found


def add_to_funnel(funnel, record, stage, *, unless_present=False, author=None):
    """Put `record` in `funnel` at `stage`; a record already in it moves there, or, with
    `unless_present`, stays where it is. The placement."""
    stage = find_stage(funnel, stage)
    _check_record(funnel, record)
    with transaction.atomic():
        placement = _placement(funnel, record)
        if placement is not None and unless_present:
            return placement
        return _place(funnel, record, placement, stage, author)


def move_in_funnel(funnel, record, stage, author=None):
    """Move `record` to `stage` of `funnel` (putting it in the funnel if it is not)."""
    return add_to_funnel(funnel, record, stage, author=author)


def remove_from_funnel(funnel, record, author=None):
    """Take `record` out of `funnel`; whether it was in it."""
    with transaction.atomic():
        placement = _placement(funnel, record)
        if placement is None:
            return False
        from_stage = placement.stage
        placement.delete()
        _note_move(funnel, record, from_stage, None, author)
    return True


def _check_record(funnel, record):
    if record.module_id != funnel.module_id:
        raise RecordError(
            f"{funnel} is a funnel of {funnel.module}; record {record.pk} is one of "
            f"{record.module}.",
            field="record",
        )


def _placement(funnel, record):
    return (
        FunnelPlacement.objects.select_for_update()
        .select_related("stage")
        .filter(funnel=funnel, record=record)
        .first()
    )


def _place(funnel, record, placement, stage, author):
    if placement is None:
        try:
            with transaction.atomic():
                placement = FunnelPlacement.objects.create(
                    funnel=funnel, record=record, stage=stage
                )
        except IntegrityError:
            # Another call put it in meanwhile: move it from there.
            placement = _placement(funnel, record)
        else:
            _note_move(funnel, record, None, stage, author)
            return placement
    if placement.stage_id == stage.pk:
        return placement
    from_stage = placement.stage
    placement.stage = stage
    placement.save(update_fields=["stage", "placed_at"])
    _note_move(funnel, record, from_stage, stage, author)
    return placement


def _note_move(funnel, record, from_stage, to_stage, author):
    FunnelMove.objects.create(
        funnel=funnel, record=record, from_stage=from_stage, to_stage=to_stage, author=author
    )
    if from_stage is None:
        text = f"{funnel}: entered at {to_stage}"
    elif to_stage is None:
        text = f"{funnel}: left (was at {from_stage})"
    else:
        text = f"{funnel}: {from_stage} → {to_stage}"
    RecordEntry.objects.create(
        record=record,
        kind=RecordEntry.Kind.FUNNEL_MOVE,
        text=text,
        data={
            "funnel": funnel.name,
            "from": from_stage.name if from_stage else None,
            "to": to_stage.name if to_stage else None,
        },
        author=author,
    )
