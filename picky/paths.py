"""Attribute paths of a payload, for auto-mapping (`event.customer.email`)."""

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


def attribute_paths(payload, prefix="event"):
    """Every leaf and every array of `payload` as a JMESPath path.

    Arrays are mapped through their first element (`items[0].sku`), as a
    builder user picks "the first item's SKU" or iterates over `items`.
    """
    paths = []

    def walk(value, path):
        if len(paths) >= MAX_PATHS:
            return
        if isinstance(value, dict):
            if not value and path != prefix:
                paths.append(path)
            for key, child in value.items():
                walk(child, f"{path}.{quote_key(key)}")
        elif isinstance(value, list):
            paths.append(path)
            if value:
                walk(value[0], f"{path}[0]")
        else:
            paths.append(path)

    walk(payload, prefix)
    return paths


def paths_signature(paths):
    """A short digest of a set of paths: equal digests, equal structures."""
    return hashlib.sha256("\n".join(sorted(set(paths))).encode()).hexdigest()


def structure_signature(payload):
    """The digest of a payload's paths, to tell whether it differs from the sample."""
    return paths_signature(attribute_paths(payload))
