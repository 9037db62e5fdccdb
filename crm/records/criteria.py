"""Record searches: criteria and sorts compiled to the ORM on `Record.data`, the same on
PostgreSQL and SQLite.

Criteria have the shape of a step's filter (DESIGN.md "Filters"): a list of OR groups,
each a list of AND conditions `{"field": key, "op": op, "value": v, "value2": v2}`, with
values already rendered. A condition's value is normalised as the field's values are on
write (crm/records/values.py), so "+91 98470 12345" finds 919847012345 and "won" finds
"Won". Each field type allows the operators that make sense for it. As in step filters,
a record without a value for the field fails every condition on it but `is_empty`.

Fields compare through their type's sort expression, the expression of their index when
they are sortable or unique; on PostgreSQL, equality on a field without an index of its
own, of a type whose equal values are equal JSON, goes through `data @> {key: value}`,
which the GIN index serves.
"""

import json

from django.db import connection
from django.db.models import F, JSONField, Q, TextField, Value
from django.db.models.functions import Cast, Lower, NullIf

from picky.wording import listed

from .models import Module, Record
from .queries import Operand, Slot, containment_serves_equality, has_element
from .values import FIELD_TYPES, DateTime, RecordError, is_empty

NO_VALUE_OPS = {"is_empty", "is_not_empty", "is_true", "is_false"}
NEGATED = {"not_equals": "equals", "not_contains": "contains", "not_in_list": "in_list"}
# Operators a field's btree index serves (it finds the few records they keep).
NARROWING_OPS = {"equals", "in_list", "between", "gt", "gte", "lt", "lte", "before", "after"}
RANGE_LOOKUPS = {"gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte", "before": "lt", "after": "gt"}


class Attribute:
    """A record attribute criteria and sorts may name beside the fields (a column)."""

    def __init__(self, key, label, type_, column, expression=None):
        self.key, self.label, self.type, self.column = key, label, type_, column
        self.expression = expression if expression is not None else F(column)
        self.choices = []
        self.related_module = None
        self.sortable = self.unique = False


ATTRIBUTES = {
    attribute.key: attribute
    for attribute in (
        Attribute("id", "Id", "number", "id"),
        Attribute("name", "Name", "text", "name", NullIf(Lower("name"), Value(""))),
        Attribute("owner", "Owner", "user", "owner_id"),
        Attribute("contact_id", "Contact", "contact", "contact_id"),
        Attribute("created_at", "Created", "datetime", "created_at"),
        Attribute("updated_at", "Updated", "datetime", "updated_at"),
    )
}
ATTRIBUTE_OPS = {"id": ("equals", "not_equals", "gt", "gte", "lt", "lte", "between", "in_list")}


# The fields of the modules this process used, by module id: (the module's
# fields_revision they were read at, {key: field}). A module loaded with the same
# revision reads no field. A field saved or deleted raises the revision, which the
# other processes' next load of the module sees, and drops this process's entry
# (receivers.py), so a module loaded before the change reads its fields again too.
_fields_cache = {}
FIELDS_CACHE_SIZE = 1000


def fields_by_key(module):
    """{key: field} of the module's fields, in their order; a new dict on each call."""
    cached = _fields_cache.get(module.pk)
    if cached is not None and cached[0] == module.fields_revision:
        return dict(cached[1])
    fields = {field.key: field for field in module.fields.all()}
    if module.pk is not None:
        if len(_fields_cache) >= FIELDS_CACHE_SIZE:
            _fields_cache.clear()
        _fields_cache[module.pk] = (module.fields_revision, fields)
    return dict(fields)


def forget_fields(module_id):
    """Drop this process's fields of the module (it is new or gone)."""
    _fields_cache.pop(module_id, None)


def fields_changed(module_id):
    """Raise the module's fields revision: every process reads its fields again."""
    Module.objects.filter(pk=module_id).update(fields_revision=F("fields_revision") + 1)
    forget_fields(module_id)


def find_field(module, key, fields):
    key = str(key or "").strip()
    if key in fields:
        return fields[key]
    if key in ATTRIBUTES:
        return ATTRIBUTES[key]
    raise RecordError(
        f"{module} has no field “{key}”. " + listed(list(fields), "fields", "add it to the module"),
        field=key,
    )


def expression_of(field):
    if isinstance(field, Attribute):
        return field.expression
    return FIELD_TYPES[field.type].sort_expression(field.key)


def output_field_of(field, expression):
    """The model field whose database form the values compared with `field` (through its
    `expression`) take: an attribute's column (its F() has none until resolved)."""
    if isinstance(field, Attribute):
        return Record._meta.get_field(field.column)
    return expression.output_field


def operators_of(field):
    if isinstance(field, Attribute):
        return ATTRIBUTE_OPS.get(field.key, FIELD_TYPES[field.type].operators)
    return FIELD_TYPES[field.type].operators


class RecordFilter:
    """Criteria compiled for the ORM: the `aliases` and the `condition` to filter on.

    Each value compared with goes in as one Operand, in the form the database takes it,
    and is kept in `values` in the order it was placed. With `slots`, each Operand holds a
    Slot (its place in `values`) instead of the value: the SQL of a search is then the
    same for every search of its `shape` (the fields, their types and indexes, the
    operators and how many values each takes), which crm/records/queries.py compiles
    once and runs with each search's values."""

    def __init__(self, slots=False):
        self.slots = slots
        self.aliases = {}
        self.condition = Q()
        self.values = []
        self.shape = []

    def apply(self, queryset):
        return queryset.alias(**self.aliases).filter(self.condition) if self.shape else queryset

    def param(self, value, output_field):
        """`value` as the database takes it, kept in `values`; what goes in the SQL's
        parameters (the value, or its Slot)."""
        self.values.append(output_field.get_db_prep_value(value, connection))
        return Slot(len(self.values) - 1) if self.slots else self.values[-1]

    def operand(self, value, output_field):
        return Operand(self.param(value, output_field), output_field)

    def holds(self, document):
        """A Q: the record's data holds `document` (PostgreSQL's @>, which the GIN index
        serves), the document given as its JSON text."""
        text = self.operand(json.dumps(document), TextField())
        return Q(data__contains=Cast(text, JSONField()))


def compile_criteria(module, criteria, project, fields, *, slots=False):
    """A RecordFilter of `criteria` on the module's records, or RecordError naming what
    is wrong in them."""
    compiled = RecordFilter(slots)
    if is_empty(criteria):
        return compiled
    if not isinstance(criteria, list) or not all(isinstance(g, list) for g in criteria):
        raise RecordError("Criteria must be a list of groups, each a list of conditions.")
    for group in criteria:
        if not all(isinstance(condition, dict) for condition in group):
            raise RecordError("Each condition needs a field, an operator and a value.")
        # In a group that names an indexed field, that field's index finds the records
        # and the other equalities filter them: a GIN scan of a common value (status =
        # "Won") would read far more than the index finds.
        narrowed = any(
            c.get("op") in NARROWING_OPS and _indexed(fields.get(str(c.get("field"))))
            for c in group
        )
        holds = Q()
        shape = []
        for condition in group:
            placed = len(compiled.values)
            field, op, q = _condition(module, condition, fields, project, compiled, narrowed)
            holds &= q
            shape.append((*signature(field), op, len(compiled.values) - placed))
        compiled.condition |= holds
        compiled.shape.append(tuple(shape))
    return compiled


def filter_records(queryset, module, criteria, project, fields=None):
    """`queryset` (the module's records) narrowed to those meeting `criteria`."""
    fields = fields if fields is not None else fields_by_key(module)
    return compile_criteria(module, criteria, project, fields).apply(queryset)


def signature(field):
    """What of a field decides the SQL comparing or sorting it."""
    return field.key, field.type, _indexed(field)


def _indexed(field):
    return field is not None and (field.sortable or field.unique)


def _condition(module, condition, fields, project, compiled, narrowed):
    field = find_field(module, condition.get("field"), fields)
    op = condition.get("op")
    allowed = operators_of(field)
    if op not in allowed:
        raise RecordError(
            f"“{field.label}” cannot be compared with “{op}”; use one of {', '.join(allowed)}.",
            field=field.key,
        )
    alias = f"criterion_{field.key}"
    expression = compiled.aliases[alias] = expression_of(field)
    compare = Comparison(field, alias, compiled, narrowed, output_field_of(field, expression))
    present = Q(**{f"{alias}__isnull": False})
    if op == "is_empty":
        return field, op, Q(**{f"{alias}__isnull": True})
    if op == "is_not_empty":
        return field, op, present
    if op in ("is_true", "is_false"):
        return field, op, compare.equals(op == "is_true")
    if op in NEGATED:
        return field, op, present & ~compare.positive(NEGATED[op], condition, project)
    return field, op, compare.positive(op, condition, project)


class Comparison:
    """The Q of one condition's field (through its alias) with its values."""

    def __init__(self, field, alias, compiled, narrowed, output_field):
        self.field, self.alias, self.compiled, self.narrowed = field, alias, compiled, narrowed
        self.output_field = output_field

    def operand(self, value):
        return self.compiled.operand(value, self.output_field)

    def positive(self, op, condition, project):
        field, alias = self.field, self.alias
        value = condition.get("value")
        if op == "in_list":
            items = value if isinstance(value, list) else str(value or "").split(",")
            operands = [_operand(field, item, project) for item in items if not is_empty(item)]
            if not operands:
                raise RecordError(f"“{field.label}”: list the values to look for.", field=field.key)
            if field.type == "multi_choice":
                return _any(self.has_element(operand) for operand in operands)
            return Q(**{f"{alias}__in": [self.operand(operand) for operand in operands]})
        operand = _operand(field, value, project)
        if op == "equals":
            return self.equals(operand)
        if op == "contains":
            if field.type == "multi_choice":
                return self.has_element(operand)
            return Q(**{f"{alias}__contains": self.operand(operand)})
        if op in ("starts_with", "ends_with"):
            return Q(**{f"{alias}__{op.replace('_with', 'with')}": self.operand(operand)})
        if op in RANGE_LOOKUPS:
            return Q(**{f"{alias}__{RANGE_LOOKUPS[op]}": self.operand(operand)})
        if op == "between":
            upper = _operand(field, condition.get("value2"), project)
            return Q(
                **{f"{alias}__gte": self.operand(operand), f"{alias}__lte": self.operand(upper)}
            )
        raise RecordError(f"“{op}” is not an operator.", field=field.key)

    def equals(self, operand):
        # A field with an index of its own (sortable or unique) compares through its
        # expression, which that index serves; the others through the GIN index, unless
        # an indexed field of their group narrows the search.
        field = self.field
        if (
            containment_serves_equality()
            and not isinstance(field, Attribute)
            and FIELD_TYPES[field.type].exact
            and not self.narrowed
            and not _indexed(field)
        ):
            return self.compiled.holds({field.key: operand})
        if isinstance(operand, bool):
            # A yes/no value reads as the text "true" or "false" (->> and SQLite alike).
            operand = "true" if operand else "false"
        return Q(**{self.alias: self.operand(operand)})

    def has_element(self, choice):
        if containment_serves_equality():
            return self.compiled.holds({self.field.key: [choice]})
        return has_element(self.field.key, self.compiled.param(choice, TextField()))


def _operand(field, value, project):
    if is_empty(value):
        raise RecordError(f"“{field.label}”: give a value to compare with.", field=field.key)
    if isinstance(field, Attribute):
        if field.type == "datetime":
            # A column compares with a moment, not the text data holds.
            return DateTime().moment(field, value, project)
        if field.key == "id":
            return FIELD_TYPES["user"].read_id(field, value)
    return FIELD_TYPES[field.type].clean_operand(field, value, project)


def _any(conditions):
    combined = Q()
    for condition in conditions:
        combined |= condition
    return combined


def sort_signature(module, sort, fields):
    """What of a sort decides its SQL (RecordError for a field the module lacks)."""
    if not sort or sort == "id":
        return None
    return signature(find_field(module, sort, fields))


def order_records(queryset, module, sort, descending, fields=None):
    """`queryset` sorted by `sort` (a field key or attribute; the id when empty), ties
    by id. Records without a value come last in ascending order and first in descending
    order, as PostgreSQL's indexes keep them, on SQLite too."""
    if not sort or sort == "id":
        return queryset.order_by("-id" if descending else "id")
    fields = fields if fields is not None else fields_by_key(module)
    field = find_field(module, sort, fields)
    queryset = queryset.alias(sort_key=expression_of(field))
    if descending:
        return queryset.order_by(F("sort_key").desc(nulls_first=True), "-id")
    return queryset.order_by(F("sort_key").asc(nulls_last=True), "id")
