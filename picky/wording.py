"""Counts written as a person writes them: "1 day", "3 days", never "1 days" or "day(s)"."""


def counted(count, singular, plural=None):
    """`count` with the noun agreeing: counted(1, "day") is "1 day", counted(2, "delivery",
    "deliveries") is "2 deliveries". A count given as text (a delay's amount typed in the
    admin, "1" or "{{ event.days }}") is shown as typed; only one is singular."""
    shown = f"{count:g}" if isinstance(count, float) else str(count).strip()
    is_one = shown in ("1", "1.0", "-1")
    return f"{shown} {singular if is_one else plural or singular + 's'}"


LISTED_AT_MOST = 20


def listed(names, plural, where_to_add):
    """The names a message offers instead of one it did not find, as a sentence:
    listed(["Sales", "Support"], "departments", ...) is "Its departments: Sales, Support.".
    `names` are read up to one past LISTED_AT_MOST, so that "and more" can be said;
    `where_to_add` says where a project with none gets its first."""
    names = list(names[: LISTED_AT_MOST + 1])
    if not names:
        return f"It has no {plural} yet: {where_to_add}."
    more = " and more" if len(names) > LISTED_AT_MOST else ""
    return f"Its {plural}: {', '.join(names[:LISTED_AT_MOST])}{more}."
