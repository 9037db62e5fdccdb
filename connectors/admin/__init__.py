"""Admin of the connectors app, one module per page family."""

from . import connectors  # noqa: F401
