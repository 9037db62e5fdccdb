"""What a connector's templates can read where they are used: the attribute tree of the
builder's picker, and warnings for templates naming a path that is not there.

The paths come from the connector's sample payload (`event.*`, arrays through their first
item), the names earlier actions save their outputs under (`vars.<save_as>`, and the
variable Set Variable names), the iterator's item in a step that repeats, and the
namespaces every run has (`meta`, `contact`, `counters`, `globals`, `now`; `storage`, the
data-storage rows, is taken as written). A simulation keeps nothing, so the shape of an
action's outputs is not known: any path under a saved name is taken.
"""

from dataclasses import dataclass, field
from itertools import islice

from jmespath.exceptions import JMESPathError

from actions.models import Action
from actions.registry import get_type
from crm.template_paths import contact_group
from picky.paths import MAX_PATHS, payload_nodes, quote_key
from picky.paths import path_node as node
from picky.templating import HOLE, compile_path

from .display import path_tree

META_KEYS = ("connector", "connector_id", "project", "event_id", "run_id", "received_at",
             "hop_count", "method")  # fmt: skip
NOW_KEYS = ("iso", "date", "time", "timestamp")
FIXED_NAMESPACES = {"now": NOW_KEYS, "meta": META_KEYS}
# Namespaces whose keys are not known before a run: any path under them is taken (a
# data-storage row may be created by the run itself).
OPEN_NAMESPACES = ("contact", "counters", "globals", "storage")
# The action type that sets a variable by the name in its config, not through save_as.
SET_VARIABLE_TYPE = "set_variable"


@dataclass
class TemplateScope:
    """What templates read at one place of a connector (its field mapping, a step, an
    action): the sample payload, the variables saved before, the iterator's list path."""

    sample: dict | None
    variables: dict = field(default_factory=dict)  # name -> label of the action saving it
    iterator_path: str = ""
    counters: tuple = ()
    # Whose contacts' attribute keys the picker offers under contact.attributes.
    projects: tuple = ()

    def known_paths(self):
        """The sample's nodes as tuples of keys (an array's first item is 0)."""
        if getattr(self, "_known", None) is None:
            self._known = set()
            if isinstance(self.sample, dict):
                by_path = {}
                for path, key, _, parent in islice(payload_nodes(self.sample), MAX_PATHS):
                    by_path[path] = () if parent is None else (*by_path[parent], key)
                    self._known.add(("event", *by_path[path]))
        return self._known


def scope_for(connector, step=None, action=None):
    """The scope of the connector's field mapping (no step), of a step's filters, delay and
    iterator, or of an action (saved, or about to be added at the end of `step`)."""
    variables = {}
    if step is not None:
        for earlier in earlier_actions(connector, step, action):
            action_type = get_type(earlier.type)
            label = earlier.name or (action_type.label if action_type else earlier.type)
            config = earlier.config or {}
            if config.get("save_as"):
                variables[config["save_as"]] = label
            if earlier.type == SET_VARIABLE_TYPE and config.get("name"):
                variables[config["name"]] = label
    # The step's own filters and delay are read once, before its items: only its actions
    # see the item.
    iterator = (step.iterator or {}) if step is not None and action is not None else {}
    counters = tuple(connector.project.counters.values_list("name", flat=True)[:200])
    return TemplateScope(
        sample=connector.sample_payload if connector.sample_payload else None,
        variables=variables,
        iterator_path=iterator.get("path", "") if isinstance(iterator, dict) else "",
        counters=counters,
        projects=(connector.project_id,),
    )


def earlier_actions(connector, step, action=None):
    """The actions that run before `action` (before the step's own when None): those of
    earlier steps, then the step's own before it; a new action comes after them all."""
    actions = Action.objects.filter(step__connector=connector).select_related("step")
    ordered = actions.order_by("step__position", "step_id", "position", "id")
    return [candidate for candidate in ordered if runs_before(candidate, step, action)]


def runs_before(candidate, step, action):
    """Whether `candidate` runs before `action` of `step` (before the step's own actions
    when `action` is None; a new action runs last in its step)."""
    where = (candidate.step.position, candidate.step.pk)
    if where < (step.position, step.pk or 0):
        return True
    if candidate.step.pk != step.pk or action is None:
        return False
    return action.pk is None or (candidate.position, candidate.pk) < (action.position, action.pk)


# --- the picker's tree -------------------------------------------------------------


def picker_tree(scope):
    """Groups of nodes for the attribute picker, each node as the connector page's tree
    shows one (label, path, template, kind, sample, children)."""
    groups = [{"label": "Sample payload (event)", "nodes": path_tree(scope.sample or {})}]
    if scope.iterator_path:
        groups.append({"label": "The current item", "nodes": item_nodes(scope)})
    if scope.variables:
        groups.append(
            {
                "label": "Saved by earlier actions (vars)",
                "nodes": [
                    node(f"vars.{quote_key(name)}", name, f"saved by {label}")
                    for name, label in scope.variables.items()
                ],
            }
        )
    groups.append(contact_group(scope.projects))
    groups.append(
        {
            "label": "Counters, globals and the time",
            "nodes": [
                *(node(f"counters.{quote_key(name)}", name, "counter") for name in scope.counters),
                *(node(f"now.{key}", f"now.{key}") for key in NOW_KEYS),
            ],
        }
    )
    groups.append(
        {"label": "About the run (meta)", "nodes": [node(f"meta.{key}", key) for key in META_KEYS]}
    )
    return groups


def item_nodes(scope):
    """`item` (with the sample's first item's fields) and `index`."""
    item = node("item", "item", f"each item of {scope.iterator_path}")
    items = sample_value(scope, scope.iterator_path)
    if isinstance(items, list) and items and isinstance(items[0], dict):
        item["children"] = path_tree(items[0], prefix="item")
    return [item, node("index", "index", "the item's number, from 0")]


def sample_value(scope, path):
    """The sample's value at an `event.…` path, or None."""
    keys = plain_path(path)
    if not keys or keys[0] != "event":
        return None
    value = scope.sample
    for key in keys[1:]:
        if isinstance(key, int):
            value = value[0] if isinstance(value, list) and value else None
        else:
            value = value.get(key) if isinstance(value, dict) else None
    return value


# --- warnings --------------------------------------------------------------------


def plain_path(expression):
    """The keys of a template hole that is a plain path (`event.items[2].sku` is
    ("event", "items", 0, "sku"): every index reads as the sample's first item); None for
    any other expression (a function, a projection), which is not checked."""
    try:
        tree = compile_path(expression).parsed
    except (JMESPathError, ValueError):
        return None
    return _keys(tree)


def _keys(tree):
    kind = tree.get("type")
    if kind == "field":
        return (tree["value"],)
    if kind == "subexpression":
        keys = ()
        for child in tree["children"]:
            child_keys = _keys(child)
            if child_keys is None:
                return None
            keys += child_keys
        return keys
    if kind == "index_expression":
        left, index = tree["children"]
        left_keys = _keys(left)
        if left_keys is None or index.get("type") != "index":
            return None
        return (*left_keys, 0)
    return None


def template_warnings(value, scope):
    """Warnings for the templates in `value` (a text, or a list or object of them) naming a
    path `scope` does not have; empty when every path is known."""
    warnings = []
    for text in strings_in(value):
        for match in HOLE.finditer(text):
            problem = path_problem(match.group(1), scope)
            if problem and problem not in warnings:
                warnings.append(problem)
    return warnings


def path_problem(expression, scope):
    keys = plain_path(expression)
    if not keys or not isinstance(keys[0], str):
        return ""
    hole = f"{{{{ {expression} }}}}"
    root = keys[0]
    if root == "event":
        if scope.sample is None or keys in scope.known_paths():
            return ""
        return f"{hole}: the sample payload has no such field."
    if root == "vars":
        if len(keys) > 1 and keys[1] in scope.variables:
            return ""
        name = f"vars.{keys[1]}" if len(keys) > 1 else "vars"
        return f"{hole}: no earlier action saves {name}."
    if root in ("item", "index"):
        if not scope.iterator_path:
            return (
                f"{hole}: item and index exist only in the actions of a step that repeats "
                "for each item."
            )
        items = sample_value(scope, scope.iterator_path)
        if root == "index" or len(keys) == 1 or not isinstance(items, list) or not items:
            return ""
        inner = plain_path(scope.iterator_path)
        if inner and (*inner, 0, *keys[1:]) in scope.known_paths():
            return ""
        return f"{hole}: the sample's items have no such field."
    if root in FIXED_NAMESPACES:
        keys_of = FIXED_NAMESPACES[root]
        if len(keys) == 1 or keys[1] in keys_of:
            return ""
        return f"{hole}: {root} has {', '.join(keys_of)}."
    if root in OPEN_NAMESPACES:
        return ""
    return (
        f"{hole}: {root} is not something templates read; paths start with event, vars, "
        "contact, counters, globals, storage, now or meta (e.g. {{ event." + root + " }})."
    )


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_in(item)
