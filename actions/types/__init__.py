"""One module per action category; importing them registers the types."""

from . import automation, counter, delay, formatter, notification  # noqa: F401
