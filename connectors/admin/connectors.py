from django.contrib import admin
from django.utils.html import format_html

from picky.tenancy import ProjectScopedAdminMixin

from ..models import Connector, Event


@admin.register(Connector)
class ConnectorAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "project", "enabled", "connector_url", "created_at"]
    list_filter = ["enabled", "project"]
    search_fields = ["name"]
    readonly_fields = ["connector_url", "created_at", "updated_at"]

    @admin.display(description="Connector URL")
    def connector_url(self, obj):
        if not obj.pk:
            return "Shown once the connector is saved."
        return format_html(
            '<code class="picky-url">{}</code> '
            '<button type="button" class="button picky-copy" data-copy="{}">Copy</button>',
            obj.url,
            obj.url,
        )

    class Media:
        js = ["picky/copy.js"]


@admin.register(Event)
class EventAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = ["id", "connector", "received_at", "status", "method", "source_ip"]
    list_filter = ["status", "connector"]
    readonly_fields = [f.name for f in Event._meta.fields]

    def has_add_permission(self, request, *args):
        return False
