"""The registry of action types: the only list of them."""

_types = {}


class DuplicateActionType(Exception):
    pass


def register(key):
    """Class decorator: `@register("add_tag") class AddTag(ActionType): ...`."""

    def decorate(cls):
        if key in _types:
            raise DuplicateActionType(f"Action type {key!r} is registered twice.")
        cls.key = key
        _types[key] = cls()
        return cls

    return decorate


def get_type(key):
    """The registered type for `key`, or None."""
    return _types.get(key)


def all_types():
    return dict(_types)


def type_choices():
    """(key, label) pairs grouped by category, for form choices."""
    groups = {}
    for action_type in sorted(_types.values(), key=lambda t: (t.category, t.label)):
        groups.setdefault(action_type.category, []).append((action_type.key, action_type.label))
    return list(groups.items())
