"""Admin of the record store, one module per page family: modules and their fields,
records (list, form, timeline, CSV export and import), funnels and their board."""

from . import funnels, modules, records  # noqa: F401
