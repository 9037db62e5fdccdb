"""The record form, generated from the module's fields: a box per field suited to its
type, validated by the record store (clean_values), each error shown by its field; the
owner, the contact, the record's place in each funnel and a note for the timeline."""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.utils import timezone

from ...models import Contact
from .. import services
from ..models import Field, Module, Record
from ..values import RecordError
from .display import record_title
from .filters import member_choices, members

RELATION_CHOICES = 500
DATA_PREFIX = "data__"
FUNNEL_PREFIX = "funnel__"
NOT_IN_FUNNEL = [("", "not in this funnel")]


def data_name(key):
    return f"{DATA_PREFIX}{key}"


def value_box(field, project):
    """The form field of one module field; what it returns is read by clean_values."""
    options = {"label": field.label, "required": False}
    kind = field.type
    Type = Field.Type
    if kind == Type.LONG_TEXT:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **options)
    if kind in (Type.NUMBER, Type.DECIMAL):
        return forms.CharField(widget=forms.NumberInput(attrs={"step": "any"}), **options)
    if kind == Type.DATE:
        return forms.CharField(widget=forms.DateInput(attrs={"type": "date"}), **options)
    if kind == Type.DATETIME:
        widget = forms.DateTimeInput(attrs={"type": "datetime-local"})
        return forms.CharField(widget=widget, help_text=f"In {project.time_zone} time.", **options)
    if kind == Type.CHOICE:
        choices = [("", "—"), *((choice, choice) for choice in field.choices)]
        return forms.ChoiceField(choices=choices, **options)
    if kind == Type.MULTI_CHOICE:
        choices = [(choice, choice) for choice in field.choices]
        return forms.MultipleChoiceField(
            choices=choices, widget=forms.CheckboxSelectMultiple, **options
        )
    if kind == Type.BOOLEAN:
        return forms.ChoiceField(choices=[("", "—"), ("yes", "Yes"), ("no", "No")], **options)
    if kind == Type.USER:
        return forms.ChoiceField(choices=[("", "—"), *member_choices(project)], **options)
    if kind == Type.CONTACT:
        return forms.ModelChoiceField(
            queryset=Contact.objects.filter(project=project),
            widget=AutocompleteSelect(Record._meta.get_field("contact"), admin.site),
            **options,
        )
    if kind == Type.RELATION:
        return relation_box(field, options)
    widgets = {Type.EMAIL: forms.EmailInput, Type.URL: forms.URLInput}
    widget = widgets.get(kind, forms.TextInput)(attrs={"size": 40})
    if kind == Type.PHONE:
        widget.input_type = "tel"
    return forms.CharField(widget=widget, **options)


def relation_box(field, options):
    """A select of the related module's records; their number when there are too many."""
    related = Record.objects.filter(module=field.related_module_id).order_by("-id")
    records = list(related[: RELATION_CHOICES + 1])
    if len(records) > RELATION_CHOICES:
        return forms.IntegerField(
            min_value=1, help_text=f"The number of a {field.related_module} record.", **options
        )
    related_fields = list(field.related_module.fields.all())
    choices = [(record.pk, f"{record_title(record, related_fields)} (#{record.pk})")
               for record in records]  # fmt: skip
    return forms.TypedChoiceField(coerce=int, choices=[("", "—"), *choices], **options)


def initial_value(field, value, project):
    """A stored value as its box shows it."""
    if value is None:
        return None
    if field.type == Field.Type.BOOLEAN:
        return "yes" if value else "no"
    if field.type == Field.Type.DATETIME:
        moment = timezone.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return f"{timezone.localtime(moment, project.tzinfo):%Y-%m-%dT%H:%M}"
    return value


def record_form_class(module, record=None):
    """A ModelForm class for the records of `module`: its fields as boxes (named
    data__<key>), then the record's own owner and contact, its funnels and a note."""
    project = module.project
    fields = list(module.fields.select_related("related_module"))
    funnels = list(module.funnels.prefetch_related("stages")) if module.kind == "module" else []
    declared = {data_name(field.key): value_box(field, project) for field in fields}
    for funnel in funnels:
        stages = [(stage.pk, stage.name) for stage in funnel.stages.all()]
        declared[f"{FUNNEL_PREFIX}{funnel.pk}"] = forms.TypedChoiceField(
            label=f"{funnel.name} stage", required=False, coerce=int,
            choices=NOT_IN_FUNNEL + stages,
        )  # fmt: skip
    declared["note"] = forms.CharField(
        label="Add a note",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Saved on the timeline with the record.",
    )
    attributes = {
        **declared,
        "module": module,
        "module_fields": fields,
        "funnels": funnels,
        "__module__": __name__,
    }
    return type(f"{module.name}RecordForm", (RecordForm,), attributes)


class RecordForm(forms.ModelForm):
    module = None
    module_fields = ()
    funnels = ()

    class Meta:
        model = Record
        fields = ["name", "owner", "contact"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        project = self.module.project
        if not self.instance.pk:
            self.instance.module, self.instance.project = self.module, project
        if "owner" in self.fields:
            self.fields["owner"].queryset = members(project)
        if "contact" in self.fields:
            self.fields["contact"].queryset = Contact.objects.filter(project=project)
        if "name" in self.fields:
            self.fields["name"].required = True
            self.fields["name"].help_text = "The row's name: templates read the row by it."
        if self.instance.pk:
            data = self.instance.data or {}
            for field in self.module_fields:
                self.initial[data_name(field.key)] = initial_value(
                    field, data.get(field.key), project
                )
            placed = {p.funnel_id: p.stage_id for p in self.instance.placements.all()}
            for funnel in self.funnels:
                self.initial[f"{FUNNEL_PREFIX}{funnel.pk}"] = placed.get(funnel.pk, "")

    def clean(self):
        cleaned = super().clean()
        values = {}
        for field in self.module_fields:
            value = cleaned.get(data_name(field.key))
            if isinstance(value, Contact):
                value = value.pk
            values[field.key] = value
        try:
            self.values = services.clean_values(self.module, values, partial=False)
        except RecordError as exc:
            self.values = None
            for key, message in (exc.errors or {None: exc.message}).items():
                name = data_name(key) if key and data_name(key) in self.fields else None
                self.add_error(name, message)
        else:
            self.refuse_duplicates(cleaned)
        return cleaned

    def refuse_duplicates(self, cleaned):
        """A value of a unique field, or a row name, another record has: said by its box
        (the database refuses it anyway; this says where)."""
        others = Record.objects.filter(module=self.module).exclude(pk=self.instance.pk)
        name = (cleaned.get("name") or "").strip()
        if self.module.kind == Module.Kind.STORAGE and name and others.filter(name=name).exists():
            self.add_error("name", f"{self.module} already has a row named “{name}”.")
        for field in self.module_fields:
            value = self.values.get(field.key)
            if not field.unique or value is None:
                continue
            same = [[{"field": field.key, "op": "equals", "value": value}]]
            if services.records_matching(self.module, same).exclude(pk=self.instance.pk).exists():
                self.add_error(
                    data_name(field.key), f"Another {self.module} record already has {value}."
                )

    def funnel_stages(self):
        """{funnel: chosen stage id or None} of the funnel selects."""
        return {
            funnel: self.cleaned_data.get(f"{FUNNEL_PREFIX}{funnel.pk}") or None
            for funnel in self.funnels
        }
