"""The module builder: a module's fields (sortable), its macro buttons and funnels, and
the ways to its records."""

from adminsortable2.admin import CustomInlineFormSet, SortableAdminBase, SortableTabularInline
from django import forms
from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from picky.tenancy import EDIT, ProjectScopedAdminMixin, ProjectScopedInlineMixin
from picky.wording import counted

from ..models import Field, Funnel, MacroButton, Module
from .fields import LinesField, key_from_label


def records_url(module, view="changelist"):
    return reverse(f"admin:crm_record_{view}") + f"?module={module.pk}"


def module_links(module):
    """The ways from a module to its records: the list, a new record, the CSV import."""
    links = [
        (records_url(module), f"{module_noun(module, plural=True).capitalize()}"),
        (records_url(module, "add"), f"Add a {module_noun(module)}"),
    ]
    links.append((records_url(module, "import"), "Import a CSV file"))
    return format_html_join(" ", '<a class="button picky-button" href="{}">{}</a>', links)


def module_noun(module, plural=False):
    """What one of the module's records is called: a row of a table, a record otherwise."""
    noun = "row" if module.kind == Module.Kind.STORAGE else "record"
    return f"{noun}s" if plural else noun


class ModuleForm(forms.ModelForm):
    class Meta:
        model = Module
        fields = ["project", "name", "kind", "agent_access"]

    def clean(self):
        cleaned = super().clean()
        # Project and kind are read-only once saved: the database constraint on them is
        # not checked by the form then, so the name is checked here.
        project = cleaned.get("project") or getattr(self.instance, "project", None)
        kind = cleaned.get("kind") or self.instance.kind
        name = (cleaned.get("name") or "").strip()
        if project is not None and name:
            clash = Module.objects.filter(project=project, kind=kind, name__iexact=name)
            if clash.exclude(pk=self.instance.pk).exists():
                self.add_error("name", f"{project} already has a module named {name}.")
        return cleaned


class FieldForm(forms.ModelForm):
    choices = LinesField(required=False, help_text="For a choice field: one choice per line.")

    class Meta:
        model = Field
        fields = [
            "label", "key", "type", "required", "unique", "sortable", "choices", "related_module",
        ]  # fmt: skip
        widgets = {
            "label": forms.TextInput(attrs={"size": 18}),
            "key": forms.TextInput(attrs={"size": 16, "placeholder": "made from the label"}),
        }

    def __init__(self, *args, taken_keys=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.taken_keys = taken_keys if taken_keys is not None else set()
        key = self.fields["key"]
        key.required = False
        if self.instance.pk:
            # Records keep their values under the key.
            key.disabled = True
            key.help_text = "Fixed once saved."
        else:
            key.help_text = "Left empty: made from the label."

    def clean(self):
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get("key") and cleaned.get("label"):
            cleaned["key"] = key_from_label(cleaned["label"], self.taken_keys)
            self.errors.pop("key", None)
        if cleaned.get("key"):
            self.taken_keys.add(cleaned["key"])
        return cleaned


class FieldFormSet(CustomInlineFormSet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Keys made from labels do not take a key of the module nor of another new row.
        self.taken_keys = set()
        if self.instance.pk:
            self.taken_keys.update(self.instance.fields.values_list("key", flat=True))

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "taken_keys": self.taken_keys}


class FieldInline(ProjectScopedInlineMixin, SortableTabularInline):
    model = Field
    form = FieldForm
    formset = FieldFormSet
    fk_name = "module"
    extra = 1
    verbose_name_plural = "Fields (drag to reorder)"

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        related = formset.form.base_fields["related_module"]
        related.queryset = related.queryset.filter(kind=Module.Kind.MODULE)
        if obj is not None:
            related.queryset = related.queryset.filter(project=obj.project_id)
        related.help_text = "For a relation field: the module its records point to."
        # A plain select: modules are built on their own page, not from a field's row.
        for action in ("add", "change", "delete", "view"):
            setattr(related.widget, f"can_{action}_related", False)
        return formset


class MacroButtonForm(forms.ModelForm):
    fields = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Fields its form shows",
    )

    class Meta:
        model = MacroButton
        fields = ["name", "fields"]


class MacroButtonInline(ProjectScopedInlineMixin, SortableTabularInline):
    model = MacroButton
    form = MacroButtonForm
    extra = 0
    verbose_name_plural = "Macro buttons (what agents press on a record; drag to reorder)"

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        choices = [(field.key, field.label) for field in obj.fields.all()] if obj else []
        formset.form.base_fields["fields"].choices = choices
        formset.form.base_fields["fields"].help_text = (
            "" if choices else "Save the module's fields first; they are offered here then."
        )
        return formset


class FunnelInline(ProjectScopedInlineMixin, admin.TabularInline):
    model = Funnel
    fields = ["name", "stage_list", "open_links"]
    readonly_fields = ["stage_list", "open_links"]
    extra = 0
    verbose_name_plural = "Funnels (name one, save, then open it to add its stages)"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("stages")

    @admin.display(description="Stages")
    def stage_list(self, funnel):
        stages = [stage.name for stage in funnel.stages.all()] if funnel.pk else []
        return " → ".join(stages) or "-"

    @admin.display(description="")
    def open_links(self, funnel):
        if not funnel.pk:
            return ""
        return format_html(
            '<a class="button picky-button" href="{}">Stages</a>'
            '<a class="button picky-button" href="{}">Board</a>',
            reverse("admin:crm_funnel_change", args=[funnel.pk]),
            reverse("admin:crm_funnel_board", args=[funnel.pk]),
        )


@admin.register(Module)
class ModuleAdmin(SortableAdminBase, ProjectScopedAdminMixin, admin.ModelAdmin):
    form = ModuleForm
    list_display = ["name", "kind", "project", "field_count", "record_count", "list_links"]
    list_filter = ["kind", "project"]
    search_fields = ["name"]
    fields = ["project", "name", "kind", "agent_access", "links"]
    readonly_fields = ["links"]
    inlines = [FieldInline, MacroButtonInline, FunnelInline]

    class Media:
        css = {"all": ["picky/admin.css", "crm/records.css"]}
        js = ["picky/unsaved.js"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("project")
            .annotate(field_total=Count("fields", distinct=True))
        )

    def get_readonly_fields(self, request, obj=None):
        # Records carry the module's project, and a table's rows are keyed by name.
        return [*self.readonly_fields, "project", "kind"] if obj else self.readonly_fields

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        if obj is not None and obj.kind == Module.Kind.STORAGE:
            # A data-storage table is rows of values: no funnel, no macro button.
            return [inline for inline in inlines if isinstance(inline, FieldInline)]
        return inlines

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        projects = list(self.user_projects(request, EDIT)[:2])
        if len(projects) == 1:
            initial.setdefault("project", projects[0].pk)
        return initial

    @admin.display(description="fields", ordering="field_total")
    def field_count(self, module):
        return module.field_total

    @admin.display(description="records")
    def record_count(self, module):
        return counted(module.records.count(), module_noun(module))

    @admin.display(description="")
    def list_links(self, module):
        return module_links(module)

    @admin.display(description="Records")
    def links(self, module):
        if not module.pk:
            return "Save the module, then add its records."
        return module_links(module)
