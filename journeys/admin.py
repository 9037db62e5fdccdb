"""Admin pages of the journeys app: one module per feature, registered on import."""

from .flows import admin as flow_admin  # noqa: F401
from .replies import admin as reply_admin  # noqa: F401
from .sequences import admin as sequence_admin  # noqa: F401
