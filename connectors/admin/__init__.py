"""Admin of the connectors app, one module per page family."""

from . import connectors, schedules  # noqa: F401
