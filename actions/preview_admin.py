"""For ActionAdmin: the live preview of the formatter actions' pages. A "Preview" box shows
what the action gives for the connector's sample payload with the settings as typed;
picky/action-preview.js posts the page's form to `preview_view` as the user types
(debounced) and shows its JSON answer."""

from django import forms
from django.contrib import admin
from django.http import Http404, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from connectors.models import Step
from picky.tenancy import EDIT

from .models import Action
from .previews import preview_on_sample
from .registry import get_type

PREVIEW_FIELD = "live_preview"
CONFIG_PREFIX = "config__"


def shows_preview(action_type):
    return action_type is not None and action_type.shows_preview


class ActionPreviewAdminMixin:
    @property
    def media(self):
        return super().media + forms.Media(js=["picky/action-preview.js"])

    def get_urls(self):
        return [
            path(
                "preview/",
                self.admin_site.admin_view(require_POST(self.preview_view)),
                name="actions_action_preview",
            ),
            *super().get_urls(),
        ]

    # ActionAdmin's get_readonly_fields and get_fieldsets add these.
    def preview_fields(self, request, obj):
        return [PREVIEW_FIELD] if shows_preview(self.action_type_for(request, obj)) else []

    def preview_fieldsets(self, request, obj):
        if not shows_preview(self.action_type_for(request, obj)):
            return []
        return [("Preview on the sample payload", {"fields": [PREVIEW_FIELD]})]

    @admin.display(description="Output")
    def live_preview(self, obj):
        url = reverse("admin:actions_action_preview")
        if obj is not None and obj.pk:
            url += f"?action={obj.pk}"
        return format_html(
            '<div class="picky-preview" data-picky-preview="{}">'
            '<p class="picky-preview-status">Type to see the output.</p>'
            '<pre class="picky-code picky-preview-output" hidden></pre></div>',
            url,
        )

    def preview_view(self, request):
        """The action (?action= saved, or ?type= and the form's step on an add page) run on
        its connector's sample with the posted form's settings, as JSON: {"outputs"} or
        {"error"}, or {"errors": {setting: [messages]}} while a setting is refused."""
        action_id = request.GET.get("action", "")
        if action_id.isdigit():
            action = self.scoped_object(request, action_id, EDIT)
        else:
            step_id = request.POST.get("step", "")
            step = (
                Step.objects.filter(
                    pk=step_id, connector__project__in=self.user_projects(request, EDIT)
                ).first()
                if step_id.isdigit()
                else None
            )
            if step is None:
                raise Http404("No such step in your projects.")
            action = Action(step=step, type=request.GET.get("type", ""))
        action_type = get_type(action.type)
        if not shows_preview(action_type):
            raise Http404("This action type has no preview.")
        form_class = self.get_form(request, action if action.pk else None)
        form = form_class(data=request.POST, instance=action)
        if not form.is_valid():
            errors = {
                name.removeprefix(CONFIG_PREFIX): messages
                for name, messages in form.errors.items()
                if name.startswith(CONFIG_PREFIX) or name == "__all__"
            }
            return JsonResponse({"errors": errors})
        preview = preview_on_sample(form.instance, form.cleaned_config)
        if preview.error:
            return JsonResponse({"error": preview.error, "notes": preview.notes})
        return JsonResponse({"outputs": preview.outputs, "notes": preview.notes})
