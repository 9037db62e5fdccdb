"""Finding rows by a name whatever its case, one way everywhere: LOWER(column) = LOWER(name).

Django's `iexact` writes UPPER(column) = UPPER(name) on PostgreSQL and LIKE on SQLite,
which the (project, LOWER(name)) indexes of tags, categories and opt-out lists
(crm/models.py) cannot serve; and two spellings of one rule may disagree on a name. LOWER
on both sides lets the database alone decide a name's lower case (Python's str.lower and
SQLite's ASCII-only LOWER differ on "Émile").

    Tag.objects.filter(name_is("VIP"), project=project)
    User.objects.filter(name_is(reference, "username") | name_is(reference, "email"))

Across a relation, filter on the related rows (`optouts__in=OptOutList.objects.filter(
name_is(name))`): `exclude()` of an expression over `optouts__name` would join the
lists and keep a contact through any other list it is on.
"""

from django.db.models import Value
from django.db.models.functions import Lower
from django.db.models.lookups import Exact, In


def name_is(name, field="name"):
    """A filter: `field` is `name`, whatever the case."""
    return Exact(Lower(field), Lower(Value(name)))


def name_in(names, field="name"):
    """A filter: `field` is one of `names`, whatever the case."""
    return In(Lower(field), [Lower(Value(name)) for name in names])
