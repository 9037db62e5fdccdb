"""One module per action category; importing them registers the types."""

from . import automation, counter, delay, formatter, http, notification, third_party  # noqa: F401
