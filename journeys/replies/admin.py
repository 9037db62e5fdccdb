"""Smart replies in the admin: the rules in the order they are tried."""

from django.contrib import admin

from picky.tenancy import ProjectScopedAdminMixin

from ..template_paths import ContactTemplatesAdminMixin
from .models import SmartReply


@admin.register(SmartReply)
class SmartReplyAdmin(ContactTemplatesAdminMixin, ProjectScopedAdminMixin, admin.ModelAdmin):
    template_fields = ("reply",)
    list_display = ["name", "project", "match", "phrases", "reply", "enabled", "position"]
    list_editable = ["enabled", "position"]
    list_filter = ["enabled", "project"]
    search_fields = ["name", "phrases", "reply"]
    fields = ["project", "name", "enabled", "position", "match", "phrases", "reply", "tags",
              "categories"]  # fmt: skip
