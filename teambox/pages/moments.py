"""Times as the teambox pages print them, computed once per row rather than by three
`date` filters per row in a template (a page prints a hundred rows)."""

from django.utils import timezone
from django.utils.dates import MONTHS_3


class Moment:
    """A time in the current (the project's) time zone: `iso` for <time datetime>, `full`
    (2026-12-07 08:45) for a title, `short` (Dec 7, 08:45) to read, as the date filter's
    "c", "Y-m-d H:i" and "M j, H:i" write them."""

    __slots__ = ("iso", "full", "short")

    def __init__(self, value):
        local = timezone.localtime(value)
        self.iso = local.isoformat()
        self.full = local.strftime("%Y-%m-%d %H:%M")
        self.short = f"{MONTHS_3[local.month].title()} {local.day}, {local:%H:%M}"
