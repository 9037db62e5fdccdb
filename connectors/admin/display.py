"""What the connector, event and run pages show: payload trees and run timelines."""

import json
import re
from itertools import islice

from actions.registry import get_type
from picky.paths import MAX_PATHS, payload_nodes

SAMPLE_VALUE_CHARS = 60
UNNAMED_STEP = re.compile(r"Step \d+")


def pretty_json(value):
    """Indented JSON for a <pre> block (the template escapes it)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def path_tree(payload, prefix="event"):
    """The payload as nested nodes, each with the `{{ path }}` template to copy: the first
    MAX_PATHS nodes of picky.paths.payload_nodes, the walk the mapped paths come from
    (arrays are shown through their first item, `items[0].sku`)."""
    if not isinstance(payload, dict):
        return []
    entries = {}
    for path, key, value, parent in islice(payload_nodes(payload, prefix), MAX_PATHS):
        label = "[0] first item" if path == f"{parent}[0]" else str(key)
        entry = {"label": label, "path": path, "template": f"{{{{ {path} }}}}", "children": []}
        if isinstance(value, dict):
            entry["kind"] = "object"
        elif isinstance(value, list):
            entry["kind"] = f"list of {len(value)}"
        else:
            entry["kind"] = "value"
            entry["sample"] = sample_text(value)
        entries[path] = entry
        if parent is not None:
            entries[parent]["children"].append(entry)
    return entries[prefix]["children"]


def sample_text(value):
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= SAMPLE_VALUE_CHARS else text[: SAMPLE_VALUE_CHARS - 1] + "…"


def timeline_rows(logs):
    """Log dicts (engine.log_as_dict) made ready for the timeline template.

    The engine writes a step's line when the step ends, after its actions, and
    writes lines of actions with outside effects first: the timeline puts each
    step before its actions, then actions by item and position. The sort is
    stable, so a step parked on a delay shows "waiting" before "ran".
    """
    rows = []
    numbers = {}
    for log in sorted(logs, key=timeline_order):
        # Actions are numbered by their order in the step (positions may have gaps).
        number = None
        if log["kind"] == "action":
            seen = numbers.setdefault((log["step_position"], log.get("iteration")), {})
            number = seen.setdefault(log.get("action_position"), len(seen) + 1)
        # An outside effect in a simulation: the message or request as it goes out.
        simulation = log.get("simulation") or {}
        rows.append(
            {
                **log,
                "title": timeline_title(log, number),
                "inputs_json": json_or_empty(log.get("inputs")),
                "outputs_json": json_or_empty(log.get("outputs")),
                "duration": f"{log.get('duration_ms') or 0:.0f} ms",
                "simulation_json": json_or_empty(
                    {key: value for key, value in simulation.items() if key != "sent"}
                ),
                "not_sent": bool(simulation) and not simulation.get("sent"),
                "sent_in_simulation": bool(simulation.get("sent")),
            }
        )
    return rows


def json_or_empty(value):
    return "" if value in (None, {}) else pretty_json(value)


def timeline_order(log):
    is_action = log["kind"] == "action"
    iteration = log.get("iteration")
    return (
        log["step_position"],
        is_action,
        -1 if iteration is None else iteration,
        log.get("action_position") or 0,
    )


def timeline_title(log, number):
    step_label = f"Step {log['step_position'] + 1}"
    # An unnamed step's str() is "Step N" by its position: show only real names.
    if log.get("step_name") and not UNNAMED_STEP.fullmatch(log["step_name"]):
        step_label += f" · {log['step_name']}"
    if log["kind"] != "action":
        return step_label
    action_type = get_type(log.get("action_type") or "")
    label = action_type.label if action_type else log.get("action_type") or "?"
    # The action's own name when it has one; else its number in the step.
    name = (log.get("action_name") or "").strip()
    title = f"{name} · {label}" if name else f"Action {number} · {label}"
    if log.get("iteration") is not None:
        title += f" · item {log['iteration'] + 1}"
    return title
