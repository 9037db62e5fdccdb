"""The record list's filter bar: a box per field of the module, suited to its type (a
select of the choices, a number or date range, a text to look for), read into the
criteria of the record store's search (crm/records/values.py operators)."""

from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages

from ...admin_panels import members_of
from ..criteria import filter_records
from ..models import Field, Module
from ..values import RecordError

TEXT_TYPES = (Field.Type.TEXT, Field.Type.LONG_TEXT, Field.Type.URL, Field.Type.EMAIL,
              Field.Type.PHONE)  # fmt: skip
RANGE_TYPES = (Field.Type.NUMBER, Field.Type.DECIMAL, Field.Type.DATE, Field.Type.DATETIME)
ANY = [("", "any")]
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def members(project):
    return members_of([project]).order_by("username")


def member_choices(project):
    return [(user.pk, user.get_full_name() or user.get_username()) for user in members(project)]


class RecordFilterForm(forms.Form):
    """One or two boxes per field, named "f.<key>" ("f.<key>.from" and "f.<key>.to" for a
    range), plus the owner."""

    def __init__(self, module, data):
        super().__init__(data)
        self.module = module
        self.module_fields = list(module.fields.all())
        self.fields["owner"] = forms.TypedChoiceField(
            label="Owner", required=False, coerce=int, choices=ANY + member_choices(module.project)
        )
        for field in self.module_fields:
            for name, box in filter_boxes(field, module.project):
                self.fields[name] = box

    def criteria(self):
        """The AND-ed conditions of the boxes filled in (one criteria group)."""
        data = self.cleaned_data
        conditions = []
        for field in self.module_fields:
            key = field.key
            if field.type in RANGE_TYPES:
                low, high = data.get(f"f.{key}.from"), data.get(f"f.{key}.to")
                if field.type == Field.Type.DATETIME and high is not None:
                    # To a day, inclusive: before the next one starts.
                    conditions.append(condition(key, "before", high + timedelta(days=1)))
                elif high is not None:
                    conditions.append(condition(key, "lte", high))
                if low is not None:
                    conditions.append(condition(key, "gte", low))
                continue
            value = data.get(f"f.{key}")
            if value in (None, ""):
                continue
            if field.type == Field.Type.BOOLEAN:
                conditions.append({"field": key, "op": "is_true" if value == "yes" else "is_false"})
            elif field.type in TEXT_TYPES or field.type == Field.Type.MULTI_CHOICE:
                conditions.append(condition(key, "contains", value))
            else:
                conditions.append(condition(key, "equals", value))
        return conditions


def condition(key, op, value):
    return {"field": key, "op": op, "value": value if isinstance(value, (int, str)) else str(value)}


def filter_boxes(field, project):
    """[(name, form field)] of the filter boxes of one module field."""
    name, label = f"f.{field.key}", field.label
    if field.type in (Field.Type.NUMBER, Field.Type.DECIMAL):
        return [
            (f"{name}.from", forms.DecimalField(label=f"{label} from", required=False)),
            (f"{name}.to", forms.DecimalField(label="to", required=False)),
        ]
    if field.type in (Field.Type.DATE, Field.Type.DATETIME):
        return [
            (f"{name}.from", forms.DateField(label=f"{label} from", required=False,
                                             widget=DATE_INPUT)),
            (f"{name}.to", forms.DateField(label="to", required=False, widget=DATE_INPUT)),
        ]  # fmt: skip
    if field.type in (Field.Type.CHOICE, Field.Type.MULTI_CHOICE):
        choices = ANY + [(choice, choice) for choice in field.choices]
        return [(name, forms.ChoiceField(label=label, required=False, choices=choices))]
    if field.type == Field.Type.BOOLEAN:
        choices = ANY + [("yes", "yes"), ("no", "no")]
        return [(name, forms.ChoiceField(label=label, required=False, choices=choices))]
    if field.type == Field.Type.USER:
        choices = ANY + member_choices(project)
        return [(name, forms.TypedChoiceField(label=label, required=False, coerce=int,
                                              choices=choices))]  # fmt: skip
    if field.type in (Field.Type.RELATION, Field.Type.CONTACT):
        what = "contact" if field.type == Field.Type.CONTACT else f"{field.related_module} record"
        box = forms.IntegerField(label=label, required=False, min_value=1,
                                 help_text=f"the {what}'s number")  # fmt: skip
        return [(name, box)]
    box = forms.CharField(
        label=label, required=False, widget=forms.TextInput(attrs={"placeholder": "contains"})
    )
    return [(name, box)]


class ModuleFilter(admin.SimpleListFilter):
    """The module whose records are listed (?module=<id>): its fields become the columns
    and the filter bar."""

    title = "module"
    parameter_name = "module"

    def lookups(self, request, model_admin):
        modules = Module.objects.filter(project__in=model_admin.user_projects(request))
        several = modules.values("project").distinct().count() > 1
        return [
            (module.pk, f"{module.name} ({module.project})" if several else module.name)
            for module in modules.select_related("project").order_by("project__name", "name")
        ]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(module=self.value())
        return queryset


class FieldsFilter(admin.ListFilter):
    """The filter bar of the listed module: one form of boxes, one per field."""

    title = "fields"
    template = "admin/crm/record/fields_filter.html"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.module = request.picky_module
        self.form = RecordFilterForm(self.module, {})
        names = list(self.form.fields)
        values = {}
        for name in names:
            value = params.pop(name, None)
            if value is not None:
                value = value[-1] if isinstance(value, list) else value
                values[name] = value
                self.used_parameters[name] = value
        self.form = RecordFilterForm(self.module, values)
        self.other_params = [(k, v) for k, v in request.GET.items() if k not in names and k != "p"]

    def has_output(self):
        return True

    def expected_parameters(self):
        return list(self.form.fields)

    def choices(self, changelist):
        yield {
            "form": self.form,
            "others": self.other_params,
            "active": bool(self.used_parameters),
            "clear": urlencode(self.other_params),
        }

    def queryset(self, request, queryset):
        if not self.used_parameters:
            return queryset
        if not self.form.is_valid():
            messages.error(request, "Some filter boxes are not right; see the boxes in red.")
            return queryset.none()
        owner = self.form.cleaned_data.get("owner")
        if owner:
            queryset = queryset.filter(owner=owner)
        criteria = self.form.criteria()
        if not criteria:
            return queryset
        try:
            return filter_records(queryset, self.module, [criteria], self.module.project)
        except RecordError as exc:
            messages.error(request, exc.message)
            return queryset.none()
