"""The connector page's drafts and versions: what the draft changes against the live
version, Publish, Discard draft, and the version history with Roll back."""

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from picky.tenancy import EDIT
from picky.wording import counted

from .. import versions
from ..models import ConnectorVersion

# Versions listed on the page, newest first.
HISTORY_SHOWN = 20


class VersionsAdminMixin:
    """For ConnectorAdmin: a connector created here is published at once (version 1); its
    later edits make a draft, published from its page."""

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/publish/",
                view(require_POST(self.publish_view)),
                name="connectors_connector_publish",
            ),
            path(
                "<int:object_id>/discard-draft/",
                view(require_POST(self.discard_view)),
                name="connectors_connector_discard",
            ),
            path(
                "<int:object_id>/versions/<int:number>/roll-back/",
                view(require_POST(self.roll_back_view)),
                name="connectors_connector_roll_back",
            ),
            *super().get_urls(),
        ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            versions.publish_connector(obj, request.user, note="Created")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        connector = self.get_queryset(request).filter(pk=object_id).first()
        if connector is not None:
            extra_context = {**(extra_context or {}), **versions_context(connector)}
        return super().change_view(request, object_id, form_url, extra_context)

    def publish_view(self, request, object_id):
        connector = self.scoped_object(request, object_id, EDIT)
        if connector.live_version_id and not versions.draft_changes(connector):
            self.message_user(
                request, "Nothing to publish: the draft is the live version.", messages.INFO
            )
        else:
            version = versions.publish_connector(connector, request.user)
            self.message_user(
                request,
                f"Published {version}: new runs of {connector.name} run it.",
                messages.SUCCESS,
            )
        return back_to(connector)

    def discard_view(self, request, object_id):
        connector = self.scoped_object(request, object_id, EDIT)
        if connector.live_version_id is None:
            raise Http404("This connector has never been published.")
        versions.discard_draft(connector)
        self.message_user(
            request,
            f"Draft discarded: the steps and actions are those of {connector.live_version} again.",
            messages.SUCCESS,
        )
        return back_to(connector)

    def roll_back_view(self, request, object_id, number):
        connector = self.scoped_object(request, object_id, EDIT)
        version = ConnectorVersion.objects.filter(connector=connector, number=number).first()
        if version is None:
            raise Http404(f"{connector.name} has no version {number}.")
        published = versions.roll_back(connector, version, request.user)
        self.message_user(
            request,
            f"Published {published}, a copy of {version}: new runs run it, and the draft is it.",
            messages.SUCCESS,
        )
        return back_to(connector)


def versions_context(connector):
    changes = versions.draft_changes(connector)
    history = list(
        connector.versions.select_related("published_by").order_by("-number")[:HISTORY_SHOWN]
    )
    return {
        "live_version": connector.live_version,
        "draft_changes": changes,
        "draft_summary": counted(len(changes), "change") if changes else "",
        "version_history": history,
    }


def back_to(connector):
    return HttpResponseRedirect(reverse("admin:connectors_connector_change", args=[connector.pk]))
