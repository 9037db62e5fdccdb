"""Funnels: the ordered stages (sortable) and the board, stages as columns of record
cards that are dragged, or moved with the stage select on each card, to another stage."""

from adminsortable2.admin import SortableAdminBase, SortableTabularInline
from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from picky.tenancy import EDIT, ProjectScopedAdminMixin, ProjectScopedInlineMixin

from ..funnels import move_in_funnel
from ..models import Funnel, FunnelPlacement, FunnelStage, Module, Record
from .display import record_title

CARDS_PER_STAGE = 50


class StageInline(ProjectScopedInlineMixin, SortableTabularInline):
    model = FunnelStage
    fields = ["name"]
    extra = 1
    verbose_name_plural = "Stages (drag to reorder)"


@admin.register(Funnel)
class FunnelAdmin(SortableAdminBase, ProjectScopedAdminMixin, admin.ModelAdmin):
    project_path = "module__project"
    list_display = ["name", "module", "stage_list", "board_link"]
    list_filter = ["module"]
    search_fields = ["name", "module__name"]
    fields = ["module", "name", "board_link"]
    readonly_fields = ["board_link"]
    inlines = [StageInline]

    class Media:
        css = {"all": ["picky/admin.css", "crm/records.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("module").prefetch_related("stages")

    def get_readonly_fields(self, request, obj=None):
        # Placements are records of the funnel's module: a funnel never changes module.
        return [*self.readonly_fields, "module"] if obj else self.readonly_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "module":
            field.queryset = field.queryset.filter(kind=Module.Kind.MODULE)
        return field

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if request.GET.get("module", "").isdigit():
            initial["module"] = int(request.GET["module"])
        return initial

    @admin.display(description="stages")
    def stage_list(self, funnel):
        return " → ".join(stage.name for stage in funnel.stages.all()) or "-"

    @admin.display(description="Board")
    def board_link(self, funnel):
        if not funnel.pk:
            return "Save the funnel and its stages, then open its board."
        return format_html(
            '<a class="button picky-button" href="{}">Open the board</a>',
            reverse("admin:crm_funnel_board", args=[funnel.pk]),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/board/", view(self.board_view), name="crm_funnel_board"),
            path(
                "<int:object_id>/move/", view(require_POST(self.move_view)), name="crm_funnel_move"
            ),
            *super().get_urls(),
        ]

    def board_view(self, request, object_id):
        funnel = self.scoped_object(request, object_id)
        stages = list(
            funnel.stages.annotate(record_total=Count("placements")).order_by("position", "id")
        )
        fields = list(funnel.module.fields.all())
        columns = []
        for stage in stages:
            placements = (
                FunnelPlacement.objects.filter(stage=stage)
                .select_related("record__owner")
                .order_by("-placed_at", "-id")[:CARDS_PER_STAGE]
            )
            cards = [
                {"record": placement.record, "title": record_title(placement.record, fields)}
                for placement in placements
            ]
            columns.append(
                {"stage": stage, "cards": cards, "more": stage.record_total - len(cards)}
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": funnel,
            "title": f"{funnel.module.name}: {funnel.name}",
            "funnel": funnel,
            "stages": stages,
            "columns": columns,
            "can_move": self.has_change_permission(request, funnel),
            "media": self.media,
        }
        return TemplateResponse(request, "admin/crm/funnel/board.html", context)

    def move_view(self, request, object_id):
        """Move a record to a stage (the board's drag or its stage select); a drag asks
        for JSON, the select is answered with the board again."""
        funnel = self.scoped_object(request, object_id, EDIT)
        wants_json = request.headers.get("Accept", "").startswith("application/json")
        record = Record.objects.filter(module=funnel.module_id, pk=request.POST.get("record") or 0)
        stage = funnel.stages.filter(pk=request.POST.get("stage") or 0).first()
        record = record.first()
        if record is None or stage is None:
            problem = "That record or stage is no longer in this funnel; the board is reloaded."
            if wants_json:
                return JsonResponse({"error": problem}, status=400)
            self.message_user(request, problem, messages.ERROR)
        else:
            move_in_funnel(funnel, record, stage, author=request.user)
            if wants_json:
                return JsonResponse({"record": record.pk, "stage": stage.pk})
            self.message_user(
                request, f"{record_title(record)} moved to {stage.name}.", messages.SUCCESS
            )
        return HttpResponseRedirect(reverse("admin:crm_funnel_board", args=[funnel.pk]))
