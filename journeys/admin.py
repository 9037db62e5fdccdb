"""Admin pages of the journeys app: one module per feature, registered on import."""

from .sequences import admin as sequence_admin  # noqa: F401
