"""Global variables: a project's name → value pairs, read in every template as
`globals.<name>` and set in the admin or by the set_global action.

Runs read them through a copy per process kept by project and `Project.globals_revision`,
which every change bumps in the change's transaction (as connector definitions are kept by
revision): a run whose project has the revision of the copy reads no row, and a change is
seen by the next run that loads its project, with no restart.
"""

import json
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import GlobalVariable, Project

Kind = GlobalVariable.Kind

# Projects whose globals a process keeps: {project id: (globals_revision, {name: value})}.
NAMESPACE_CACHE_SIZE = 1024
_namespaces = {}


class GlobalValueError(ValueError):
    """A value a global of its kind cannot hold; the message names both."""


def global_namespace(project):
    """The project's globals as {name: value}, for `globals.<name>`. Shared by the runs of
    the process: callers never change it (set_global gives its run a new dict)."""
    cached = _namespaces.get(project.pk)
    if cached is not None and cached[0] == project.globals_revision:
        return cached[1]
    values = dict(GlobalVariable.objects.filter(project_id=project.pk).values_list("name", "value"))
    if len(_namespaces) >= NAMESPACE_CACHE_SIZE:
        _namespaces.clear()
    _namespaces[project.pk] = (project.globals_revision, values)
    return values


def bump_globals_revision(project_id):
    Project.objects.filter(pk=project_id).update(globals_revision=F("globals_revision") + 1)


@receiver(post_save, sender=GlobalVariable)
@receiver(post_delete, sender=GlobalVariable)
def global_changed(sender, instance, **kwargs):
    bump_globals_revision(instance.project_id)


def kind_of(value):
    """The kind a new global takes from its first value."""
    if isinstance(value, bool | dict | list) or value is None:
        return Kind.JSON
    if isinstance(value, int | float | Decimal):
        return Kind.NUMBER
    return Kind.TEXT


def as_number(value, name):
    """`value` (a number or a numeric text such as " 12.50 ") as an int or a float."""
    if isinstance(value, bool):
        raise GlobalValueError(f"The global {name} holds a number; {value} is not one.")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise GlobalValueError(
            f"The global {name} holds a number; {str(value)[:100]!r} is not one."
        ) from None
    if not number.is_finite():
        raise GlobalValueError(f"The global {name} holds a number; {value!r} is not one.")
    return int(number) if number == number.to_integral_value() else float(number)


def coerce_value(kind, value, name):
    """`value` as a global of `kind` holds it: text as text (a list or object as its
    JSON), a number as a JSON number, JSON as it is."""
    if kind == Kind.NUMBER:
        return as_number(value, name)
    if kind == Kind.TEXT:
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        return "" if value is None else str(value)
    return value


def set_global(project, name, value):
    """Give the global `name` of `project` the value `value` (created with the value's
    kind if new, coerced to its kind if not); the value it now holds."""
    with transaction.atomic():
        row = GlobalVariable.objects.select_for_update().filter(project=project, name=name)
        row = row.first()
        if row is None:
            row, created = GlobalVariable.objects.get_or_create(
                project=project, name=name, defaults={"kind": kind_of(value), "value": value}
            )
            if created:
                return row.value
            row = GlobalVariable.objects.select_for_update().get(pk=row.pk)
        row.value = coerce_value(row.kind, value, name)
        row.save(update_fields=["value", "updated_at"])
        return row.value


def add_to_global(project, name, amount):
    """Add `amount` to the number global `name` (created at 0 if new) under a row lock,
    in decimal so that money adds up; the sum."""
    amount = Decimal(str(as_number(amount, name)))
    with transaction.atomic():
        row, _ = GlobalVariable.objects.get_or_create(
            project=project, name=name, defaults={"kind": Kind.NUMBER, "value": 0}
        )
        row = GlobalVariable.objects.select_for_update().get(pk=row.pk)
        if row.kind != Kind.NUMBER:
            raise GlobalValueError(
                f"The global {name} holds {row.get_kind_display().lower()}, not a number: "
                "nothing can be added to it."
            )
        total = Decimal(str(as_number(row.value, name))) + amount
        row.value = as_number(total, name)
        row.save(update_fields=["value", "updated_at"])
        return row.value
