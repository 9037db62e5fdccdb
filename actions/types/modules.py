"""Module actions: add, search, update and delete the records of a module (Leads, Deals,
Patients) by name, with the values of its fields as templates and criteria in the step
filters' shape.

Their config names the module, and the values, criteria and sort name its fields by key:
a module, field or operator the project does not have is refused on save, at its
setting, and again when the action runs (the module may have changed since). They call
the crm record services only, and write Picky's own database (Effect.DATABASE; a
shared row when an owner is picked from the team, record_owners.py): a simulation runs
them for real and rolls them back. "Don't trigger workflows" makes the
write start no connector of the module (crm sends no record_changed for it).
"""

import json

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction

from connectors.filters import OPERATOR_WORDS
from crm.records import criteria as record_criteria
from crm.records import services as records
from crm.records.models import MacroButton, Module, Record
from crm.records.values import FIELD_TYPES, is_empty
from picky.templating import to_text
from picky.wording import listed

from ..base import ActionConfigForm, ActionError, ActionType, Effect, ProjectNameField, Result
from ..pickers import matching, picker
from ..registry import register
from .fields import JSONValueField, RowsInput
from .http import KeyValueField
from .record_owners import (
    LITERAL_SETTINGS,
    AddedOwnerSettings,
    UpdatedOwnerSettings,
    effect_with_owner,
    owner_for,
)

# A search saves its records in the run: at most this many.
MAX_SEARCH_RESULTS = 500
DEFAULT_SEARCH_LIMIT = 100
ORDERS = [("ascending", "Ascending (A to Z, oldest first)"), ("descending", "Descending")]
CONDITION_KEYS = ("field", "op", "value", "value2")
WHERE_TO_ADD_FIELDS = "add them on the module's page"


def literal(value):
    """Whether `value` holds no template hole: what it is is known on save."""
    return "{{" not in to_text(value)


class ModuleNameField(ProjectNameField):
    """The name of one of the project's modules (or, `kind` "storage", data-storage
    tables), whatever its case."""

    kind = Module.Kind.MODULE
    picker = "modules"

    def check_in_project(self, name, project):
        if records.find_module(project, name, kind=self.kind) is None:
            raise ValidationError(records.unknown_module_message(project, name, kind=self.kind))


@picker("modules")
def module_names(project, term):
    return matching(Module.objects.filter(project=project, kind=Module.Kind.MODULE), term)


@picker("macro_buttons")
def macro_button_names(project, term):
    return matching(MacroButton.objects.filter(module__project=project), term)


class RecordValuesField(KeyValueField):
    """The value of each field to set, by field key: rows of key and template in the
    admin, an object in the JSON; at least one when required."""

    def validate(self, value):
        if self.required and not value:
            raise ValidationError(
                "Give at least one field and its value, e.g. title: {{ event.name }}.",
                code="required",
            )


# The operators some field type of a module takes, in the step filters' order.
RECORD_OPERATORS = [
    op for op in OPERATOR_WORDS if any(op in kind.operators for kind in FIELD_TYPES.values())
]


class CriteriaInput(RowsInput):
    """Criteria as the step filters' builder shows them (picky/builder.js): groups of
    conditions, each a field key, an operator a field may take and a value; "Edit as
    JSON" shows the value itself, which stays what the form submits."""

    def __init__(self, attrs=None):
        super().__init__("list", attrs=attrs)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        widget_attrs = context["widget"]["attrs"]
        del widget_attrs["data-picky-rows"]
        operators = {
            "words": {op: OPERATOR_WORDS[op] for op in RECORD_OPERATORS},
            "no_value": sorted(record_criteria.NO_VALUE_OPS),
            "two_values": ["between"],
        }
        widget_attrs.update(
            {
                "data-picky-builder": "filters",
                "data-picky-operators": json.dumps(operators),
                "data-picky-field-placeholder": "a field's key, e.g. email",
                "data-picky-empty-text": "No condition: every record of the module.",
                "data-picky-no-case": "1",
            }
        )
        return context


class CriteriaField(JSONValueField):
    """Which records: groups of conditions in the step filters' shape,
    [[{"field": key, "op": "equals", "value": "{{ event.email }}"}]]: a record matches
    when all the conditions of any group hold."""

    widget = CriteriaInput

    def validate(self, value):
        super().validate(value)
        if value in (None, "", []):
            return
        example = '[[{"field": "email", "op": "equals", "value": "{{ event.email }}"}]]'
        if not isinstance(value, list):
            raise ValidationError(f"Give groups of conditions, e.g. {example}.")
        for number, group in enumerate(value, 1):
            if not isinstance(group, list) or not group:
                raise ValidationError(f"Group {number} is not a list of conditions: {example}.")
            for condition in group:
                if not isinstance(condition, dict) or not isinstance(condition.get("field"), str):
                    raise ValidationError(
                        f"A condition of group {number} is not an object with a field, an "
                        f"operator and a value, e.g. {example}."
                    )
                unknown = sorted(set(condition) - set(CONDITION_KEYS))
                if unknown:
                    raise ValidationError(
                        f"A condition of group {number} has settings a condition does not take "
                        f"({', '.join(unknown)}); it takes {', '.join(CONDITION_KEYS)}."
                    )
                if not literal(condition["field"]):
                    raise ValidationError(
                        "Name each condition's field by its key (e.g. email), not a template."
                    )


def skip_workflows_field():
    return forms.BooleanField(
        required=False,
        label="Don't trigger workflows associated with the module",
        help_text="The records this action writes start none of the connectors started by "
        "the module's records.",
    )


class RecordsForm(ActionConfigForm):
    """Base of the module actions' forms: checks, on save, that the module is the
    project's and that its values, criteria and sort name its fields."""

    module = ModuleNameField(max_length=100, help_text="The module's name, e.g. Deals.")

    def clean(self):
        cleaned = super().clean()
        module = self.saved_module(cleaned)
        if module is not None:
            for name, problem in setting_problems(module, cleaned):
                self.add_error(name, problem)
        return cleaned

    def saved_module(self, cleaned):
        """The module the config names, when the project and the name are known on save."""
        name = cleaned.get("module")
        if self.project is None or not name or not literal(name) or "module" in self.errors:
            return None
        return records.find_module(self.project, name.strip(), kind=ModuleNameField.kind)


def setting_problems(module, settings):
    """(setting, problem) for each field key the settings name that `module` lacks, each
    condition its field's type does not take and each condition's value (when not a
    template) that is not one of its field's."""
    problems = []
    fields = record_criteria.fields_by_key(module)
    unknown = [key for key in settings.get("values") or {} if key not in fields]
    if unknown:
        problems.append(("values", unknown_fields_message(module, unknown, fields)))
    try:
        check_criteria(module, settings.get("criteria") or [], fields)
    except records.RecordError as exc:
        problems.append(("criteria", exc.message))
    sort = to_text(settings.get("sort")).strip()
    if sort and literal(sort):
        try:
            record_criteria.find_field(module, sort, fields)
        except records.RecordError as exc:
            problems.append(("sort", exc.message))
    return problems


def check_criteria(module, criteria, fields):
    """Raise RecordError for the first condition naming a field `module` lacks or an
    operator its type does not take, or comparing it with a value (not a template) that is
    not one of its."""
    for group in criteria:
        for condition in group:
            field = record_criteria.find_field(module, condition.get("field"), fields)
            allowed = record_criteria.operators_of(field)
            if condition.get("op") not in allowed:
                raise records.RecordError(
                    f"“{field.label}” cannot be compared with “{condition.get('op')}”; use "
                    f"one of {', '.join(allowed)}.",
                    field=field.key,
                )
            if condition.get("op") not in record_criteria.NO_VALUE_OPS and is_empty(
                condition.get("value")
            ):
                raise records.RecordError(
                    f"The condition on {field.label} has no value to compare with (empty, or "
                    "the event gave none).",
                    field=field.key,
                )
    known = [
        [c for c in group if literal(c.get("value")) and literal(c.get("value2"))]
        for group in criteria
    ]
    # Compiled, not run: the values are cleaned as the search will clean them.
    record_criteria.filter_records(
        Record.objects.none(), module, [group for group in known if group], module.project, fields
    )


def unknown_fields_message(module, keys, fields=None):
    fields = fields if fields is not None else record_criteria.fields_by_key(module)
    named = ", ".join(repr(key) for key in keys)
    start = (
        f"{module} has no field {named}." if len(keys) == 1 else f"{module} has no fields {named}."
    )
    return f"{start} {listed(list(fields), 'fields', WHERE_TO_ADD_FIELDS)}"


class RecordAddForm(RecordsForm, AddedOwnerSettings):
    values = RecordValuesField(
        help_text="A value for each field, by its key: e.g. title and {{ event.name }}; "
        "templates allowed."
    )
    link_contact = forms.BooleanField(
        required=False,
        label="Link the record to the run's contact",
        help_text="The record shows on the contact's page and starts its record workflows "
        "with the contact as theirs.",
    )
    only_complete = forms.BooleanField(
        required=False,
        label="Don't create the record with partial data",
        help_text="When a required field comes out empty, create nothing and fail the step, "
        "naming the fields that were missing.",
    )
    skip_workflows = skip_workflows_field()
    field_order = ["module", "values", "link_contact", "only_complete", "owner"]


class SearchSettings(forms.Form):
    """How many records and in which order (search, update, delete)."""

    sort = forms.CharField(
        required=False, max_length=50, help_text="The key of the field to sort by, e.g. created_at."
    )
    order = forms.ChoiceField(choices=ORDERS, required=False, initial="ascending")


class RecordSearchForm(RecordsForm, SearchSettings):
    criteria = CriteriaField(
        required=False,
        help_text="Which records: conditions on their fields (e.g. email is "
        "{{ event.email }}); all the conditions of a group hold, any group. None: all.",
    )
    limit = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_SEARCH_RESULTS,
        help_text=f"At most this many records (default {DEFAULT_SEARCH_LIMIT}, at most "
        f"{MAX_SEARCH_RESULTS}).",
    )
    field_order = ["module", "criteria", "limit", "sort", "order"]


class RecordUpdateForm(RecordsForm, SearchSettings, UpdatedOwnerSettings):
    criteria = CriteriaField(
        help_text="Which records: conditions on their fields (e.g. email is "
        "{{ event.email }}); all the conditions of a group hold, any group."
    )
    values = RecordValuesField(
        help_text="The fields to set, by their key: e.g. stage and Won; templates allowed."
    )
    limit = forms.IntegerField(
        required=False, min_value=1, help_text="At most this many records (empty: all)."
    )
    skip_workflows = skip_workflows_field()
    field_order = ["module", "criteria", "values", "limit", "sort", "order", "owner"]


class RecordDeleteForm(RecordsForm, SearchSettings):
    criteria = CriteriaField(
        help_text="Which records: conditions on their fields (e.g. stage is Lost); all the "
        "conditions of a group hold, any group."
    )
    limit = forms.IntegerField(
        required=False, min_value=1, help_text="At most this many records (empty: all)."
    )
    skip_workflows = skip_workflows_field()
    field_order = ["module", "criteria", "limit", "sort", "order"]


def module_for(ctx, inputs, kind=Module.Kind.MODULE):
    """The module (or data-storage table) the rendered inputs name, or an ActionError
    naming those the project has."""
    key = "table" if kind == Module.Kind.STORAGE else "module"
    name = to_text(inputs.get(key)).strip()
    module = records.find_module(ctx.project, name, kind=kind) if name else None
    if module is None:
        raise ActionError(records.unknown_module_message(ctx.project, name, kind=kind))
    return module


def checked(module, inputs):
    """Refuse, at run, a field key or condition `module` does not take (it may have changed
    since the action was saved)."""
    problems = setting_problems(module, inputs)
    if problems:
        raise ActionError(problems[0][1])


def boxed(inputs, name):
    return inputs.get(name) in (True, "true", "True", 1, "1", "on")


def ordering(inputs):
    """The search keywords of the rendered inputs: limit, sort and order."""
    sort = to_text(inputs.get("sort")).strip() or None
    return {"sort": sort, "descending": inputs.get("order") == "descending"}


def limit_of(inputs, default=None):
    limit = inputs.get("limit")
    if limit in (None, ""):
        return default
    try:
        return int(limit)
    except (TypeError, ValueError) as exc:
        raise ActionError(f"The limit {limit!r} is not a whole number.") from exc


class RecordActionType(ActionType):
    category = "Modules"
    effect = Effect.DATABASE
    literal_fields = (
        "limit",
        "order",
        "link_contact",
        "only_complete",
        "skip_workflows",
        *LITERAL_SETTINGS,
    )


@register("record_add")
class RecordAdd(RecordActionType):
    label = "Add Record"
    description = "Add a record to a module (Deals, Patients) with a value for each field."
    form_class = RecordAddForm

    def effect_of(self, config):
        return effect_with_owner(self, config)

    def run(self, ctx, inputs):
        module = module_for(ctx, inputs)
        checked(module, inputs)
        if boxed(inputs, "link_contact") and ctx.contact is None:
            raise ActionError(
                "This run has no contact to link the record to: map one with the connector's "
                "field mapping or a Map Contact action before this one."
            )
        owner, warning = owner_for(ctx, inputs, AddedOwnerSettings)
        try:
            record = records.add_record(
                module,
                inputs.get("values") or {},
                owner=owner,
                contact=ctx.contact if boxed(inputs, "link_contact") else None,
                trigger_workflows=not boxed(inputs, "skip_workflows"),
                allow_partial=not boxed(inputs, "only_complete"),
            )
        except records.RecordError as exc:
            raise ActionError(str(exc)) from exc
        return Result(outputs=records.record_as_dict(record), skipped_because=warning)


@register("record_search")
class RecordSearch(RecordActionType):
    label = "Search Records"
    description = (
        "Find a module's records by their fields; save them (save_as) for later actions or "
        "a step's iterator (vars.NAME.records)."
    )
    form_class = RecordSearchForm

    def run(self, ctx, inputs):
        module = module_for(ctx, inputs)
        checked(module, inputs)
        try:
            found = records.search_records(
                module,
                inputs.get("criteria") or [],
                limit=limit_of(inputs, DEFAULT_SEARCH_LIMIT),
                **ordering(inputs),
            )
        except records.RecordError as exc:
            raise ActionError(str(exc)) from exc
        rows = [records.record_as_dict(record) for record in found]
        return Result(outputs={"records": rows, "count": len(rows)})


@register("record_update")
class RecordUpdate(RecordActionType):
    label = "Update Records"
    description = "Set fields of the module's records that match the criteria."
    form_class = RecordUpdateForm

    def effect_of(self, config):
        return effect_with_owner(self, config)

    def run(self, ctx, inputs):
        module = module_for(ctx, inputs)
        checked(module, inputs)
        # A pick is undone when no record changes: the team's round robin skips nobody.
        with transaction.atomic():
            owner, warning = owner_for(ctx, inputs, UpdatedOwnerSettings)
            try:
                count = records.update_records(
                    module,
                    inputs.get("criteria") or [],
                    inputs.get("values") or {},
                    limit=limit_of(inputs),
                    owner=owner,
                    trigger_workflows=not boxed(inputs, "skip_workflows"),
                    **ordering(inputs),
                )
            except records.RecordError as exc:
                raise ActionError(str(exc)) from exc
            if not count:
                transaction.set_rollback(True)
        outputs = {"count": count}
        if owner is not records.KEEP_OWNER:
            outputs["owner"] = records.username(owner) if count else ""
        return Result(outputs=outputs, skipped_because=warning)


@register("record_delete")
class RecordDelete(RecordActionType):
    label = "Delete Records"
    description = (
        "Delete the module's records that match the criteria: 2,000 at once, the rest by a "
        "worker soon after."
    )
    form_class = RecordDeleteForm

    def run(self, ctx, inputs):
        module = module_for(ctx, inputs)
        checked(module, inputs)
        try:
            deleted, queued = records.delete_records(
                module,
                inputs.get("criteria") or [],
                limit=limit_of(inputs),
                trigger_workflows=not boxed(inputs, "skip_workflows"),
                **ordering(inputs),
            )
        except records.RecordError as exc:
            raise ActionError(str(exc)) from exc
        return Result(outputs={"deleted": deleted, "queued": queued})
