"""Template namespaces an app fills for the runs whose templates name them (data storage's
`storage.<table>.<row>`), registered by the app that owns the data (connectors/apps.py) so
that the engine names none of them.

A namespace says what a connector's strings ask of it (`wanted`, found once per definition;
empty: the run loads nothing) and loads that for a run (`load(project, wanted)`)."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LoadedNamespace:
    name: str
    wanted: Any  # (iterable of the definition's strings) -> a frozenset, empty: nothing
    load: Any  # (project, what `wanted` gave) -> the namespace's dict


_namespaces = {}


def register_namespace(name, wanted, load):
    if name in _namespaces:
        raise ValueError(f"The template namespace {name!r} is registered twice.")
    _namespaces[name] = LoadedNamespace(name, wanted, load)


def namespaces_wanted(strings):
    """(namespace, what it is asked for) of every registered namespace the strings name."""
    strings = list(strings)
    wanted = ((namespace, namespace.wanted(strings)) for namespace in _namespaces.values())
    return tuple((namespace, asked) for namespace, asked in wanted if asked)
