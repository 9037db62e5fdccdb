"""One module per action category; importing them registers the types."""

from . import (  # noqa: F401
    attributes,
    automation,
    counter,
    crm,
    delay,
    flow,
    formatter,
    funnel,
    groups,
    http,
    modules,
    notification,
    storage,
    teambox,
    third_party,
)
