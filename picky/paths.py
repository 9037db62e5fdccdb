"""Paths into a payload (`event.customer.email`, `event.items[0].sku`): how they are spelled
and walked, for auto-mapping, the payload tree of the connector page and the response
mapping of HTTP actions. Templates read them with picky.templating (JMESPath)."""

import hashlib
import re

SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_PATHS = 2000


def quote_key(key):
    """A JMESPath identifier for an object key: bare when simple, else quoted."""
    key = str(key)
    if SIMPLE_KEY.match(key):
        return key
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def path_node(path, label, kind="value", children=()):
    """A node of the attribute picker's tree (static/picky/attribute-picker.js): what it
    shows (label, kind) and the `{{ path }}` it inserts."""
    return {"label": label, "path": path, "template": f"{{{{ {path} }}}}", "kind": kind,
            "children": list(children)}  # fmt: skip


def payload_nodes(payload, prefix="event"):
    """Every node of `payload` as (path, key, value, parent path), each parent before its
    children, in the payload's order; the root is (prefix, None, payload, None).

    `key` is the object key, or 0 for an array's first item: an array is walked through
    its first item (`items[0].sku`), as a builder user picks "the first item's SKU" or
    iterates over `items`.
    """
    stack = [(prefix, None, payload, None)]
    while stack:
        node = stack.pop()
        yield node
        path, _, value, _ = node
        if isinstance(value, dict):
            stack.extend(
                (f"{path}.{quote_key(key)}", key, child, path)
                for key, child in reversed(value.items())
            )
        elif isinstance(value, list) and value:
            stack.append((f"{path}[0]", 0, value[0], path))


def attribute_paths(payload, prefix="event"):
    """Every leaf, array and empty object (but the root) of `payload` as a JMESPath path,
    at most MAX_PATHS of them."""
    paths = []
    for path, _, value, _ in payload_nodes(payload, prefix):
        if isinstance(value, dict) and (value or path == prefix):
            continue
        if len(paths) >= MAX_PATHS:
            break
        paths.append(path)
    return paths


def paths_signature(paths):
    """A short digest of a set of paths: equal digests, equal structures."""
    return hashlib.sha256("\n".join(sorted(set(paths))).encode()).hexdigest()


def structure_signature(payload):
    """The digest of a payload's paths, to tell whether it differs from the sample."""
    return paths_signature(attribute_paths(payload))
