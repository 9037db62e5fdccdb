"""Drafts and published versions of a connector.

The builder edits a connector's steps and actions: its draft (Step rows without a version).
Publishing freezes a copy of the draft as the next ConnectorVersion, which becomes the
live one: new runs start on it and keep it (Run.version), even when they resume after a
delay and the connector was published again meanwhile. Each version keeps its
"picky.connector/v1" document, which the connector page compares with the draft ("what
publishing would change") and lists in the version history. Discarding the draft makes it
the live version again; rolling back publishes an earlier version's copy anew.
"""

import difflib
import json

from django.db import transaction
from django.db.models import Max, Prefetch
from django.utils import timezone

from actions.models import Action
from actions.registry import get_type
from picky.wording import counted

from .filters import filter_summary
from .models import Connector, ConnectorVersion, Step
from .transfer import export_connector


def steps_with_actions(steps):
    """`steps` (a queryset) in order, each with all its actions in order."""
    return list(
        steps.order_by("position", "id").prefetch_related(
            Prefetch("actions", queryset=Action.every.order_by("position", "id"))
        )
    )


def draft_steps(connector):
    return steps_with_actions(Step.objects.filter(connector_id=connector.pk))


def version_steps(version):
    return steps_with_actions(Step.every.filter(version=version))


@transaction.atomic
def publish_connector(connector, user=None, note=""):
    """Make the connector's draft its live version (the next number), published by `user`
    (a User, or None when no person did: the API, a command): runs started from now on run
    it. Returns the new ConnectorVersion."""
    # The connector's row is locked so that two publishers never take the same number.
    Connector.objects.select_for_update().filter(pk=connector.pk).values("pk").first()
    last = connector.versions.aggregate(last=Max("number"))["last"] or 0
    steps = draft_steps(connector)
    version = ConnectorVersion.objects.create(
        connector=connector,
        number=last + 1,
        definition=export_connector(connector, steps=steps),
        published_by=user,
        published_at=timezone.now(),
        note=note,
    )
    freeze_steps(steps, version)
    Connector.objects.filter(pk=connector.pk).update(live_version=version)
    connector.live_version = version
    return version


def freeze_steps(steps, version):
    """Copy `steps` and their actions as `version`'s own rows."""
    actions = []
    for step in steps:
        frozen = Step.every.create(
            connector_id=step.connector_id,
            version=version,
            origin=step,
            position=step.position,
            name=step.name,
            filters=step.filters,
            iterator=step.iterator,
            delay=step.delay,
        )
        actions.extend(
            Action(
                step=frozen,
                origin=action,
                position=action.position,
                name=action.name,
                type=action.type,
                config=action.config,
                enabled=action.enabled,
            )
            for action in step.actions.all()
        )
    Action.every.bulk_create(actions)


@transaction.atomic
def discard_draft(connector):
    """Undo every change of the draft since the live version was published."""
    if connector.live_version_id is None:
        raise ValueError("This connector has never been published: there is no draft to discard.")
    reset_draft(connector, connector.live_version)


def reset_draft(connector, version):
    """Make the draft the copy of `version`'s steps and actions. The draft's rows that the
    version was copied from are rewritten in place (their HTTP logs and response mappings
    stay theirs); the others are deleted, and the version's rows without one are added."""
    drafts = {step.pk: step for step in draft_steps(connector)}
    draft_actions = {action.pk: action for step in drafts.values() for action in step.actions.all()}
    kept_steps, kept_actions = set(), set()
    for frozen in version_steps(version):
        step = drafts.get(frozen.origin_id) or Step(connector=connector)
        step.position, step.name = frozen.position, frozen.name
        step.filters, step.iterator, step.delay = frozen.filters, frozen.iterator, frozen.delay
        step.save()
        kept_steps.add(step.pk)
        for frozen_action in frozen.actions.all():
            action = draft_actions.get(frozen_action.origin_id) or Action()
            action.step = step
            for field in ("position", "name", "type", "config", "enabled"):
                setattr(action, field, getattr(frozen_action, field))
            action.save()
            kept_actions.add(action.pk)
    Action.objects.filter(pk__in=set(draft_actions) - kept_actions).delete()
    Step.objects.filter(pk__in=set(drafts) - kept_steps).delete()


@transaction.atomic
def roll_back(connector, version, user=None):
    """Publish `version`'s steps and actions again, as the next version; the draft becomes
    that copy too. Returns the new ConnectorVersion."""
    reset_draft(connector, version)
    return publish_connector(connector, user, note=f"Rolled back to version {version.number}")


# What the draft changes -----------------------------------------------------------------


def draft_changes(connector):
    """What publishing the draft would change in the live version, as sentences (none: the
    draft is the live version). A connector never published: [] (it runs its draft)."""
    if connector.live_version_id is None:
        return []
    live = connector.live_version.definition.get("steps") or []
    draft = export_connector(connector, steps=draft_steps(connector))["steps"]
    return steps_changes(live, draft)


def steps_changes(before, after):
    changes = []
    for old_index, new_index, moved in matched(before, after, _step_identity):
        if old_index is None:
            step = after[new_index]
            actions = counted(len(step.get("actions") or []), "action")
            changes.append(f"{_step_label(new_index, step)} is added ({actions}).")
        elif new_index is None:
            changes.append(f"{_step_label(old_index, before[old_index])} is removed.")
        else:
            if moved:
                changes.append(
                    f"{_step_label(new_index, after[new_index])} moves (was step {old_index + 1})."
                )
            changes.extend(step_changes(new_index, before[old_index], after[new_index]))
    return changes


def step_changes(index, old, new):
    label = _step_label(index, new)
    changes = []
    if (old.get("filters") or []) != (new.get("filters") or []):
        was = filter_summary(old.get("filters") or []) or "always runs"
        now = filter_summary(new.get("filters") or []) or "always runs"
        changes.append(f"{label}: filters changed from “{was}” to “{now}”.")
    for key in ("delay", "iterator"):
        if old.get(key) != new.get(key):
            changes.append(
                f"{label}: {key} changed from {_compact(old.get(key))} to {_compact(new.get(key))}."
            )
    changes.extend(
        f"{label}: {change}"
        for change in actions_changes(old.get("actions") or [], new.get("actions") or [])
    )
    return changes


def actions_changes(before, after):
    changes = []
    for old_index, new_index, moved in matched(before, after, _action_identity):
        if old_index is None:
            changes.append(f"{_action_label(new_index, after[new_index])} is added.")
        elif new_index is None:
            changes.append(f"{_action_label(old_index, before[old_index])} is removed.")
        else:
            label = _action_label(new_index, after[new_index])
            if moved:
                changes.append(f"{label} moves (was action {old_index + 1}).")
            changes.extend(
                f"{label}: {change}"
                for change in action_changes(before[old_index], after[new_index])
            )
    return changes


def matched(before, after, identity):
    """(index in `before` or None, index in `after` or None, moved): the items `identity`
    finds in both (moved: out of their order among the others kept), then the added and
    the removed."""
    matcher = difflib.SequenceMatcher(
        a=[identity(item) for item in before], b=[identity(item) for item in after], autojunk=False
    )
    pairs, removed, added = [], [], []
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if tag == "equal":
            pairs.extend(zip(range(old_start, old_end), range(new_start, new_end), strict=True))
        else:
            removed.extend(range(old_start, old_end))
            added.extend(range(new_start, new_end))
    for new_index in list(added):
        old_index = next(
            (i for i in removed if identity(before[i]) == identity(after[new_index])), None
        )
        if old_index is not None:
            removed.remove(old_index)
            added.remove(new_index)
            pairs.append((old_index, new_index))
    pairs.sort(key=lambda pair: pair[1])
    staying = in_order([old for old, _ in pairs], [new for _, new in pairs])
    return (
        [(old, new, position not in staying) for position, (old, new) in enumerate(pairs)]
        + [(None, new_index, False) for new_index in added]
        + [(old_index, None, False) for old_index in removed]
    )


def in_order(olds, news):
    """The positions of the kept items that did not move: the longest run of them still in
    their old order (among equals, the one that moved them least); the others moved."""
    best = []  # per position: (length, -distance moved, previous position)
    for i, old in enumerate(olds):
        score = (1, -abs(old - news[i]), None)
        for j in range(i):
            if olds[j] < old:
                length, distance, _ = best[j]
                candidate = (length + 1, distance - abs(old - news[i]), j)
                score = max(score, candidate, key=lambda s: s[:2])
        best.append(score)
    if not best:
        return set()
    position = max(range(len(best)), key=lambda i: best[i][:2])
    staying = set()
    while position is not None:
        staying.add(position)
        position = best[position][2]
    return staying


def action_changes(old, new):
    changes = []
    if old.get("name", "") != new.get("name", ""):
        changes.append(f"renamed (was “{old.get('name') or 'no name'}”)")
    if old.get("enabled", True) != new.get("enabled", True):
        changes.append("enabled" if new.get("enabled", True) else "disabled")
    old_config, new_config = old.get("config") or {}, new.get("config") or {}
    settings = sorted(
        key
        for key in set(old_config) | set(new_config)
        if old_config.get(key) != new_config.get(key)
    )
    if settings:
        changes.append(f"settings change: {', '.join(settings)}")
    return [f"{change}." for change in changes]


def _action_identity(action):
    """What follows an action across a move: its type and name."""
    return (action.get("type"), action.get("name", ""))


def _step_identity(step):
    """What follows a step across a move: its name, or its actions' types when it has none."""
    return step.get("name") or tuple(action.get("type") for action in step.get("actions") or [])


def _step_label(index, step):
    name = step.get("name")
    return f"Step {index + 1} “{name}”" if name else f"Step {index + 1}"


def _action_label(index, action):
    action_type = get_type(action.get("type"))
    label = action_type.label if action_type else action.get("type")
    name = action.get("name")
    return f"action {index + 1} ({label}{' “' + name + '”' if name else ''})"


def _compact(value):
    return "none" if value in (None, []) else json.dumps(value, ensure_ascii=False)
