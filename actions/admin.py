"""The action page: an action's settings edited with its type's own form.

A step's actions are listed and reordered on the step page; each action is
added and edited here. The page shows the fields of the type's `form_class`
and saves the config through `ActionType.validate`, the same check the
connector import and the API use, with each problem shown at its field.
"""

import copy
import json

from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Max
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from connectors.admin.builder import BuilderAdminMixin
from connectors.admin.template_paths import TemplateScope, scope_for
from connectors.models import Step
from picky.json_input import JSONInputError, parse_json
from picky.models import Project
from picky.tenancy import EDIT, ProjectScopedAdminMixin, has_access
from teambox.whatsapp_templates import find_template

from . import http_admin  # noqa: F401 (admin pages of the HTTP actions)
from .base import ActionConfigForm, Effect
from .models import Action
from .pickers import PickerInput, get_picker, names_for, source_of
from .preview_admin import ActionPreviewAdminMixin
from .registry import all_types, get_type
from .types.fields import JSONValueField, RowsInput

CONFIG_PREFIX = "config__"
# Options every type has (save_as, fallback): shown after the type's own settings.
COMMON_OPTIONS = tuple(ActionConfigForm.base_fields)


class ActionForm(forms.ModelForm):
    """Base of the per-type forms built by `action_form_for`."""

    action_type = None

    class Meta:
        model = Action
        fields = ["step", "name", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.action_type is not None and not self.instance.pk:
            self.instance.type = self.action_type.key
        if "step" in self.fields:
            self.fields["step"].queryset = self.fields["step"].queryset.select_related("connector")
            self.fields["step"].label_from_instance = lambda step: f"{step.connector} › {step}"
        config = self.instance.config or {}
        for name in self.config_names():
            if name in config:
                self.initial[CONFIG_PREFIX + name] = config[name]
        self.point_pickers_at_project()

    def point_pickers_at_project(self):
        """Give the picker boxes the endpoint answering for the action's project (the
        step's: saved, or named by the add page's ?step=)."""
        step_id = self.instance.step_id or self.initial.get("step")
        found = (
            Step.objects.filter(pk=step_id)
            .values_list("connector__project", "connector__name")
            .first()
            if str(step_id or "").isdigit()
            else None
        )
        if found is None:
            return
        project_id, connector_name = found

        def pick_url(source):
            return f"{reverse('admin:actions_action_pick', args=[source])}?project={project_id}"

        for field in self.fields.values():
            if isinstance(field.widget, PickerInput) or getattr(field.widget, "source", ""):
                field.widget.url = pick_url(field.widget.source)
            if isinstance(field.widget, RowsInput) and field.widget.fields:
                sources = {row["source"] for row in field.widget.fields if row.get("source")}
                field.widget.urls = {source: pick_url(source) for source in sources}
                field.widget.own_connector = connector_name

    def config_names(self):
        return [
            name[len(CONFIG_PREFIX) :] for name in self.fields if name.startswith(CONFIG_PREFIX)
        ]

    def clean(self):
        cleaned = super().clean()
        if self.action_type is None:
            raise ValidationError(
                f"Unknown action type {self.instance.type!r}: no registered type has this key, "
                "so its settings cannot be checked. Delete this action or add it again."
            )
        if any(CONFIG_PREFIX + name in self.errors for name in self.config_names()):
            return cleaned
        raw = {name: cleaned.get(CONFIG_PREFIX + name) for name in self.config_names()}
        step = cleaned.get("step") or (self.instance.step if self.instance.step_id else None)
        try:
            config = self.action_type.validate(
                raw, project=step.connector.project if step else None
            )
        except ValidationError as exc:
            for field, message in validation_messages(exc):
                target = CONFIG_PREFIX + field if field in raw else None
                self.add_error(target, message if target or not field else f"{field}: {message}")
        else:
            self.cleaned_config = json.loads(json.dumps(config, cls=DjangoJSONEncoder))
        return cleaned

    def save(self, commit=True):
        self.instance.type = self.action_type.key
        self.instance.config = self.cleaned_config
        return super().save(commit)


def action_form_for(action_type):
    """An ActionForm carrying the type's config fields, named `config__<field>`."""
    attrs = {"action_type": action_type}
    if action_type is not None:
        for name, field in action_type.form_class.base_fields.items():
            field_copy = copy.deepcopy(field)
            source = source_of(field_copy)
            rows = rows_input_for(field_copy, source)
            if rows is not None:
                field_copy.widget = rows
            elif source:
                if not isinstance(field_copy.widget, PickerInput):
                    field_copy.widget = PickerInput(source)
            elif isinstance(field_copy, forms.JSONField):
                field_copy.widget = forms.Textarea(
                    attrs={"class": "picky-json", "rows": 5, "spellcheck": "false"}
                )
            elif isinstance(field_copy, JSONValueField) or is_custom_text_field(field_copy):
                field_copy.widget = ConfigTextarea(any_json=isinstance(field_copy, JSONValueField))
            field_copy.label = field.label or name.replace("_", " ").capitalize()
            if takes_template(action_type, name, field_copy):
                field_copy.widget.attrs["data-picky-template"] = ""
            attrs[CONFIG_PREFIX + name] = field_copy
    return type("ActionForm", (ActionForm,), attrs)


def rows_input_for(field, source):
    """The rows widget of a list or key/value setting (RowsInput: one for lists, one for
    maps, whatever the type), its rows offering the names of the field's picker; None
    for other settings. A field says it is one by its widget or its class's `rows`."""
    if isinstance(field.widget, RowsInput):
        rows = field.widget
    elif getattr(field, "rows", ""):
        rows = RowsInput(field.rows)
    else:
        return None
    rows.source = rows.source or source
    rows.parses_json = not isinstance(field, forms.JSONField)
    return rows


def takes_template(action_type, name, field):
    """Whether a config field is a template box (the attribute picker attaches to it): a
    text box of a setting the engine renders. Rows widgets mark their own boxes."""
    return (
        name not in action_type.literal_fields
        and name not in COMMON_OPTIONS
        and isinstance(field.widget, (forms.TextInput, forms.Textarea))
        and not isinstance(field.widget, (RowsInput, forms.PasswordInput))
        and not isinstance(field, (forms.IntegerField, forms.FloatField, forms.RegexField))
    )


def is_custom_text_field(field):
    """A type's own field class shown as a text box: it may hold lists or objects (a text
    field of its own, a name, holds text only)."""
    return (
        not type(field).__module__.startswith("django.")
        and isinstance(field.widget, forms.TextInput)
        and not isinstance(field, forms.CharField)
    )


class ConfigTextarea(forms.Textarea):
    """A config value as text: lists and objects are shown and read back as JSON.

    A list of plain values shows comma-separated ("a@x.com, b@y.com"), which
    list fields read back. With `any_json`, any JSON value other than a string
    is read back as that value (42 is a number, "hello {{ x }}" stays text).
    """

    def __init__(self, any_json=False):
        super().__init__(attrs={"class": "picky-code", "rows": 3, "spellcheck": "false"})
        self.any_json = any_json

    def format_value(self, value):
        if isinstance(value, list) and not self.any_json and all(is_scalar(v) for v in value):
            return ", ".join(str(item) for item in value)
        if isinstance(value, (list, dict)) or (self.any_json and not is_text(value)):
            return json.dumps(value, indent=2, ensure_ascii=False)
        return super().format_value(value)

    def value_from_datadict(self, data, files, name):
        value = super().value_from_datadict(data, files, name)
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not (self.any_json or text[:1] in ("[", "{")):
            return value
        try:
            parsed = parse_json(text)
        except JSONInputError:
            # Kept as typed: the field reads it as text, or refuses it with its error.
            return value
        return value if isinstance(parsed, str) else parsed


def is_scalar(value):
    return not isinstance(value, (list, dict))


def is_text(value):
    return value is None or isinstance(value, str)


def validation_messages(exc):
    """(field or None, message) pairs of ActionType.validate's ValidationError."""
    if not hasattr(exc, "error_dict"):
        return [(None, message) for message in exc.messages]
    pairs = []
    for field, errors in exc.error_dict.items():
        where = None if field in (NON_FIELD_ERRORS, None) else field
        for error in errors:
            # validate() wraps form.errors.get_json_data(): {"message": ..., "code": ...}.
            if hasattr(error, "error_dict") and "message" in error.error_dict:
                texts = [text for inner in error.error_dict["message"] for text in inner.messages]
            else:
                texts = error.messages
            pairs.extend((where, text) for text in texts)
    return pairs


@admin.register(Action)
class ActionAdmin(
    ActionPreviewAdminMixin, BuilderAdminMixin, ProjectScopedAdminMixin, admin.ModelAdmin
):
    project_path = "step__connector__project"
    list_display = ["__str__", "type", "step", "enabled"]
    list_select_related = ["step__connector"]
    search_fields = ["name", "type", "step__name", "step__connector__name"]

    class Media:
        css = {"all": ["picky/admin.css", "picky/builder.css"]}
        js = [
            "picky/json-editor.js", "picky/unsaved.js", "picky/picker.js",
            "picky/attribute-picker.js", "picky/builder.js", "picky/whatsapp-template.js",
        ]  # fmt: skip

    def template_scope(self, request, obj):
        if obj is not None and obj.pk:
            return scope_for(obj.step.connector, obj.step, obj)
        step_id = request.GET.get("step", "")
        step = (
            Step.objects.filter(pk=step_id, connector__project__in=self.user_projects(request))
            .select_related("connector__project")
            .first()
            if step_id.isdigit()
            else None
        )
        if step is None:
            return TemplateScope(sample=None)
        # A new action comes after the step's others.
        return scope_for(step.connector, step, Action(step=step))

    def template_values(self, obj):
        action_type = get_type(obj.type)
        literal = action_type.literal_fields if action_type else ()
        return {
            CONFIG_PREFIX + key: value
            for key, value in (obj.config or {}).items()
            if key not in literal and key not in COMMON_OPTIONS
        }

    def get_model_perms(self, request):
        # Actions are reached from their step's page, not from the index.
        return {}

    def get_urls(self):
        pick = self.admin_site.admin_view(self.pick_view)
        return [
            path("pick/<str:source>/", pick, name="actions_action_pick"),
            path(
                "whatsapp-template/",
                self.admin_site.admin_view(self.whatsapp_template_view),
                name="actions_action_whatsapp_template",
            ),
            *super().get_urls(),
        ]

    def built_project(self, request):
        """(the project ?project= whose connectors the user builds, or None when there is no
        such project; a 400 answer when ?project= is not an id). Raises PermissionDenied
        for a project the user does not build."""
        project_id = request.GET.get("project", "")
        if not project_id.isdigit():
            return None, JsonResponse({"error": "Name the project: ?project=<id>."}, status=400)
        if not has_access(request, self.section, EDIT, int(project_id)):
            raise PermissionDenied
        return Project.objects.filter(pk=project_id).first(), None

    def pick_view(self, request, source):
        """The names picker `source` offers in the project ?project= for the typed ?term=
        (narrowed by ?within=, for a source that takes it),
        as {"results": [...]}: for those who build the project's connectors."""
        if get_picker(source) is None:
            raise Http404(f"No picker called {source!r}.")
        project, refusal = self.built_project(request)
        if refusal:
            return refusal
        if project is None:
            raise Http404("No such project.")
        names = names_for(
            source, project, request.GET.get("term", ""), within=request.GET.get("within", "")
        )
        return JsonResponse({"results": names})

    def whatsapp_template_view(self, request):
        """The approved WhatsApp template ?name= of the project ?project=: its language,
        text and parameters (the send form shows a value box per parameter)."""
        project, refusal = self.built_project(request)
        if refusal:
            return refusal
        template = project and find_template(project, request.GET.get("name", "").strip())
        if not template:
            raise Http404("No approved template of that name on the project's channels.")
        return JsonResponse(template)

    def action_type_for(self, request, obj):
        return get_type(obj.type if obj else request.GET.get("type", ""))

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = action_form_for(self.action_type_for(request, obj))
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        shown = ["step", "type_label"] if obj else ["type_label"]
        return shown + self.preview_fields(request, obj)

    def get_fieldsets(self, request, obj=None):
        action_type = self.action_type_for(request, obj)
        fieldsets = [(None, {"fields": ["step", "type_label", "name", "enabled"]})]
        if action_type is None:
            return fieldsets
        names = list(action_type.form_class().fields)  # honours the form's field_order
        own = [name for name in names if name not in COMMON_OPTIONS]
        common = [name for name in names if name in COMMON_OPTIONS]
        fieldsets.append(
            (
                f"{action_type.label} settings",
                {
                    "fields": [CONFIG_PREFIX + name for name in own],
                    "description": action_type.description,
                },
            )
        )
        if common:
            fieldsets.append(("Options", {"fields": [CONFIG_PREFIX + name for name in common]}))
        return fieldsets + self.preview_fieldsets(request, obj)

    @admin.display(description="Type")
    def type_label(self, obj):
        action_type = get_type(obj.type)
        if action_type is None:
            return f"Unknown type {obj.type!r}" if obj.type else "—"
        outside = " (outside effect: not performed in simulations)"
        return action_type.label + (outside if action_type.effect == Effect.OUTSIDE else "")

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        action_type = get_type(request.GET.get("type", ""))
        if action_type is None:
            return self.choose_type_view(request)
        extra_context = {**(extra_context or {}), "title": f"Add action: {action_type.label}"}
        return super().add_view(request, form_url, extra_context)

    def choose_type_view(self, request):
        step = request.GET.get("step", "")
        categories = {}
        for action_type in sorted(all_types().values(), key=lambda t: (t.category, t.label)):
            query = f"?type={action_type.key}" + (f"&step={step}" if step.isdigit() else "")
            categories.setdefault(action_type.category, []).append(
                {"type": action_type, "url": reverse("admin:actions_action_add") + query}
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Choose the type of action",
            "categories": categories,
            "unknown_type": request.GET.get("type", ""),
        }
        return TemplateResponse(request, "admin/actions/action/choose_type.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        action = self.get_queryset(request).filter(pk=object_id).first()
        if action is not None:
            action_type = get_type(action.type)
            extra_context = {
                **(extra_context or {}),
                "type_links": action_type.admin_links(action) if action_type else [],
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if not change:
            last = obj.step.actions.aggregate(last=Max("position"))["last"]
            obj.position = 0 if last is None else last + 1
        super().save_model(request, obj, form, change)

    def response_post_save_change(self, request, obj):
        return self.back_to_step(obj)

    def response_post_save_add(self, request, obj):
        return self.back_to_step(obj)

    def back_to_step(self, action):
        return HttpResponseRedirect(reverse("admin:connectors_step_change", args=[action.step_id]))
