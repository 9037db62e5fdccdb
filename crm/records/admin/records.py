"""A module's records: the list (a column per field, a filter bar from the fields, sort by
the sortable ones, CSV export of what is listed), the record form generated from the
fields with its timeline and funnels, and the CSV import."""

import csv

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import slugify

from picky.tenancy import EDIT, VIEW, ProjectScopedAdminMixin

from ...admin_panels import members_of, panel
from .. import services
from ..criteria import expression_of
from ..funnels import add_to_funnel, remove_from_funnel
from ..imports import continue_import
from ..models import Field, Module, Record, RecordImport
from .display import csv_cell, local_time, record_title, shown_value
from .filters import FieldsFilter, ModuleFilter, member_choices
from .forms import FUNNEL_PREFIX, data_name, record_form_class
from .importing import import_page, progress_page
from .modules import module_links, module_noun, records_url

TIMELINE_ROWS = 50
# Columns of the list: long texts are read on the record's page.
LIST_TYPES_LEFT_OUT = (Field.Type.LONG_TEXT,)
EXPORT_CHUNK = 2000


class Echo:
    """A file that hands back what is written: csv.writer's rows, streamed."""

    def write(self, value):
        return value


def field_column(field, project, members):
    """A list column showing one field, sorted by the field's own sort expression when the
    field is sortable (the expression of its index)."""

    def column(record):
        return shown_value(field, (record.data or {}).get(field.key), project, members)

    column.short_description = field.label
    column.__name__ = f"field_{field.key}"
    if field.sortable:
        column.admin_order_field = expression_of(field)
    return column


@admin.register(Record)
class RecordAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    list_per_page = 50
    # One count of what the filters keep: neither one of every record nor one per choice.
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_select_related = ["owner", "module"]
    autocomplete_fields = ["contact"]
    readonly_fields = ["module_link", "timeline", "created", "updated"]

    class Media:
        css = {"all": ["picky/admin.css", "crm/records.css"]}

    # The module of the page ---------------------------------------------------

    def module_of(self, request, obj=None):
        """The module a page is about: the record's, else ?module=<id> among the user's
        projects (404 for another project's)."""
        if obj is not None:
            return obj.module
        if not self.has_section_access(request, VIEW):
            raise PermissionDenied
        module_id = request.GET.get("module", "")
        if not module_id:
            return None
        module = Module.objects.filter(
            pk=module_id if module_id.isdigit() else 0, project__in=self.user_projects(request)
        ).select_related("project")
        module = module.first()
        if module is None:
            raise Http404("No such module in your projects.")
        return module

    # The list -------------------------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        module = self.module_of(request)
        request.picky_module = module
        context = {**(extra_context or {}), "module": module}
        if module is not None:
            context.update(
                title=module.name,
                module_links=module_links(module),
                export_url=reverse("admin:crm_record_export") + "?" + request.GET.urlencode(),
                settings_url=reverse("admin:crm_module_change", args=[module.pk]),
                funnels=list(module.funnels.all()),
            )
        return super().changelist_view(request, context)

    def get_list_display(self, request):
        module = getattr(request, "picky_module", None)
        if module is None:
            return ["number", "title", "module", "owner", "updated"]
        # Made once a request: the headers find the sortable columns by identity.
        if not hasattr(request, "picky_columns"):
            fields = [f for f in module.fields.all() if f.type not in LIST_TYPES_LEFT_OUT]
            members = {}
            if any(field.type == Field.Type.USER for field in fields):
                members = dict(member_choices(module.project))
            columns = [field_column(field, module.project, members) for field in fields]
            name = ["name"] if module.kind == Module.Kind.STORAGE else []
            request.picky_columns = ["number", *name, *columns, "owner", "updated"]
        return request.picky_columns

    def get_list_filter(self, request):
        if getattr(request, "picky_module", None) is None:
            return [ModuleFilter]
        return [ModuleFilter, FieldsFilter]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("module__project")
        if getattr(request, "picky_module", False) is None:
            # Records of every module: each titled by its module's fields.
            queryset = queryset.prefetch_related("module__fields")
        return queryset

    @admin.display(description="#", ordering="id")
    def number(self, record):
        return f"#{record.pk}"

    @admin.display(description="record")
    def title(self, record):
        return record_title(record)

    # CSV export of what the list shows ----------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("export/", view(self.export_view), name="crm_record_export"),
            path("import/", view(self.import_view), name="crm_record_import"),
            path(
                "import/<int:import_id>/",
                view(self.import_progress_view),
                name="crm_record_import_progress",
            ),
            *super().get_urls(),
        ]

    def export_view(self, request):
        """The listed records (the module, its filters and sort) as CSV, streamed."""
        module = self.module_of(request)
        if module is None:
            raise Http404("Choose a module to export its records.")
        if not self.has_view_permission(request):
            raise PermissionDenied
        request.picky_module = module
        changelist = self.get_changelist_instance(request)
        fields = list(module.fields.all())
        name = ["name"] if module.kind == Module.Kind.STORAGE else []
        header = ["id", *name, *(field.key for field in fields), "owner", "contact_id",
                  "created_at", "updated_at"]  # fmt: skip
        records = changelist.queryset.select_related("owner").iterator(chunk_size=EXPORT_CHUNK)

        def rows():
            writer = csv.writer(Echo())
            yield writer.writerow(header)
            for record in records:
                data = record.data or {}
                yield writer.writerow([
                    record.pk,
                    *([record.name] if name else []),
                    *(csv_cell(field, data.get(field.key)) for field in fields),
                    record.owner.get_username() if record.owner else "",
                    record.contact_id or "",
                    record.created_at.isoformat(),
                    record.updated_at.isoformat(),
                ])  # fmt: skip

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        filename = f"{module.project.slug}-{slugify(module.name) or 'records'}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    # CSV import ---------------------------------------------------------------

    def import_view(self, request):
        module = self.module_of(request)
        if module is None:
            raise Http404("Choose a module to import records into.")
        if not self.has_section_access(request, EDIT, Record(project=module.project)):
            raise PermissionDenied
        page = import_page(request, module)
        if "started" in page:
            return redirect(import_url(page["started"]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "module": module,
            "title": f"Import {module_noun(module, plural=True)} into {module.name}",
            "noun": module_noun(module, plural=True),
            "list_url": records_url(module),
            **page,
        }
        return TemplateResponse(request, "admin/crm/record/import.html", context)

    def import_progress_view(self, request, import_id):
        """An import's progress, refreshing itself while it runs, then its report; a
        stopped import can be continued from its last batch that went in."""
        record_import = (
            RecordImport.objects.filter(pk=import_id, project__in=self.user_projects(request))
            .select_related("module__project", "author")
            .first()
        )
        if record_import is None:
            raise Http404("No such import in your projects.")
        module = record_import.module
        if not self.has_section_access(request, EDIT, Record(project=module.project)):
            raise PermissionDenied
        if request.method == "POST":
            continue_import(record_import)
            return redirect(import_url(record_import))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "module": module,
            "title": f"Import of {record_import.file_name} into {module.name}",
            "noun": module_noun(module, plural=True),
            "list_url": records_url(module),
            "import_url": records_url(module, "import"),
            **progress_page(record_import),
        }
        return TemplateResponse(request, "admin/crm/record/import_progress.html", context)

    # The record page ------------------------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        if self.module_of(request) is None:
            if not self.has_add_permission(request):
                raise PermissionDenied
            # A record's form is made of its module's fields: the module comes first.
            modules = Module.objects.filter(project__in=self.user_projects(request, EDIT))
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Add a record to which module?",
                "modules": modules.select_related("project").order_by("project__name", "name"),
                "several_projects": modules.values("project").distinct().count() > 1,
            }
            return TemplateResponse(request, "admin/crm/record/choose_module.html", context)
        return super().add_view(request, form_url, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        record = self.get_object(request, object_id) if object_id else None
        module = self.module_of(request, record) if record or not object_id else None
        if module is not None:
            title = record_title(record) if record else f"Add a {module_noun(module)}"
            extra_context = {
                **(extra_context or {}),
                "module": module,
                "list_url": records_url(module),
                "title": f"{module.name}: {title}",
                "subtitle": f"#{record.pk}" if record else None,
            }
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        module = self.module_of(request, obj)
        if module is not None:
            kwargs["form"] = record_form_class(module, obj)
        # Without a module (no page asks so: add_view asks for one first) the record's
        # own fields only.
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        module = self.module_of(request, obj)
        if module is None:
            return [(None, {"fields": ["owner", "contact"]})]
        own = ["name"] if module.kind == Module.Kind.STORAGE else []
        values = [data_name(field.key) for field in module.fields.all()]
        fieldsets = [
            (None, {"fields": ["module_link", *own, *values]}),
            ("Owner and contact", {"fields": ["owner", "contact"]}),
        ]
        funnels = [f"{FUNNEL_PREFIX}{funnel.pk}" for funnel in module.funnels.all()]
        if funnels and module.kind == Module.Kind.MODULE:
            fieldsets.append(("Funnels", {"fields": funnels}))
        timeline = ["timeline", "note"] if obj else ["note"]
        fieldsets.append(("Timeline", {"fields": timeline}))
        if obj:
            fieldsets.append(("History", {"fields": ["created", "updated"]}))
        return fieldsets

    def get_changeform_initial_data(self, request):
        # ?module= picks the module (not a value of the form); a new record is the
        # author's when they are a member of its project.
        module = self.module_of(request)
        if module is not None and members_of([module.project]).filter(pk=request.user.pk):
            return {"owner": request.user.pk}
        return {}

    @admin.display(description="Module")
    def module_link(self, record):
        module = record.module if record.module_id else None
        if module is None:
            return "-"
        return format_html('<a href="{}">{}</a>', records_url(module), module.name)

    @admin.display(description="created")
    def created(self, record):
        return local_time(record.created_at, record.module.project) if record.pk else "-"

    @admin.display(description="last changed", ordering="updated_at")
    def updated(self, record):
        return local_time(record.updated_at, record.module.project) if record.pk else "-"

    @admin.display(description="Timeline (newest first)")
    def timeline(self, record):
        project = record.module.project
        rows = [
            (
                local_time(entry.created_at, project, zone=False),
                entry.get_kind_display(),
                author_name(entry.author),
                entry.text,
            )
            for entry in services.timeline_of(record, limit=TIMELINE_ROWS)
        ]
        headers = [f"time ({project.time_zone})", "what", "by", "text"]
        return panel(headers, rows, "Nothing on the timeline yet.")

    def save_model(self, request, obj, form, change):
        module = form.module
        if not self.has_section_access(request, EDIT, Record(project_id=module.project_id)):
            raise PermissionDenied("That module belongs to a project where you may not change it.")
        owner, contact = form.cleaned_data.get("owner"), form.cleaned_data.get("contact")
        if change:
            handover = {}
            if "owner" in form.changed_data:
                # The form put the new owner on the record: the service compares it with
                # the stored one and writes the change's timeline line.
                obj.owner_id = form.initial.get("owner")
                handover = {"owner": owner}
            services.update_record(obj, form.values, author=request.user, **handover)
            if {"contact", "name"} & set(form.changed_data):
                obj.save(update_fields=["contact", "name", "updated_at"])
        else:
            record = services.add_record(
                module,
                form.values,
                owner=owner,
                contact=contact,
                author=request.user,
                name=form.cleaned_data.get("name", ""),
                allow_partial=False,
            )
            obj.pk = record.pk
            obj.refresh_from_db()
        for funnel, stage_id in form.funnel_stages().items():
            place_in_funnel(funnel, obj, stage_id, request.user)
        note = form.cleaned_data.get("note", "").strip()
        if note:
            services.add_record_note(obj, note, author=request.user)

    def delete_model(self, request, obj):
        self.delete_queryset(request, Record.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        # Through the record store: each deletion starts the module's record workflows.
        for module_id, ids in group_ids(queryset).items():
            module = Module.objects.select_related("project").get(pk=module_id)
            services.delete_records(module, [[{"field": "id", "op": "in_list", "value": ids}]])


def import_url(record_import):
    return reverse("admin:crm_record_import_progress", args=[record_import.pk])


def author_name(user):
    if user is None:
        return "automation"
    return user.get_full_name() or user.get_username()


def group_ids(queryset):
    grouped = {}
    for module_id, record_id in queryset.values_list("module_id", "id"):
        grouped.setdefault(module_id, []).append(record_id)
    return grouped


def place_in_funnel(funnel, record, stage_id, author):
    """Put the record at the chosen stage of the funnel (None: out of it)."""
    placed = record.placements.filter(funnel=funnel).values_list("stage_id", flat=True).first()
    if stage_id == placed:
        return
    if stage_id is None:
        remove_from_funnel(funnel, record, author=author)
    else:
        add_to_funnel(funnel, record, funnel.stages.get(pk=stage_id), author=author)
