"""Admin of the connectors app, one module per page family."""

from . import (  # noqa: F401
    connectors,
    events,
    runs,
    schedules,
    steps,
)
