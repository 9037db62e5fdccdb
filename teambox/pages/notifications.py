"""The notifications drawer: an agent's unread instant notifications, newest first, each
linking to its contact's chat when the agent may open it, and to its CRM record (or the
form of the macro button sent with it) when the agent may read the record's module; mark
one read, or clear all.

The drawer is in every page's header (layout.render_page adds drawer_context); the live
refresh swaps its list in when a notification arrives or goes."""

from django.db.models import F
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from crm.records.access import readable_records

from ..live import drawer_notifications, notifications_stamp
from ..models import Notification
from ..notifications import clear_notifications, mark_notification_read, unread_notifications
from .access import project_page, visible_conversations

LIST_TEMPLATE = "teambox/partials/notification_list.html"


def drawer_items(request, project, unread):
    """The drawer's notifications (of the `unread` queryset), newest first, each with
    `chat`: the pk of its contact's newest chat the user may open, or None."""
    notifications = drawer_notifications(unread)
    contact_ids = {n.contact_id for n in notifications if n.contact_id}
    chats = {}
    if contact_ids:
        rows = (
            visible_conversations(request.user, project, request.role)
            .filter(contact_id__in=contact_ids)
            .order_by("contact_id", F("last_message_at").desc(nulls_last=True), "-pk")
            .values_list("contact_id", "pk")
        )
        for contact_id, pk in rows:
            chats.setdefault(contact_id, pk)
    for notification in notifications:
        notification.chat = chats.get(notification.contact_id)
    link_records(request, project, notifications)
    return notifications


def link_records(request, project, notifications):
    """Set `record_url` and `record_label` on each of `notifications` whose record the
    user may read (its page, or the form of the macro button sent with it); "" on the
    others, whose record id is shown as text."""
    ids = {int(n.record_id) for n in notifications if n.record_id.isdigit()}
    readable = {}
    if ids:
        rows = (
            readable_records(project, request.role)
            .filter(pk__in=ids)
            .values_list("pk", "name", "module__name")
        )
        readable = {pk: name or f"{module} #{pk}" for pk, name, module in rows}
    for notification in notifications:
        record_id = int(notification.record_id) if notification.record_id.isdigit() else None
        label = readable.get(record_id)
        notification.record_url = notification.record_label = ""
        if label is None:
            continue
        button = notification.macro_button
        if button is not None:
            notification.record_url = reverse(
                "teambox_pages:record_macro", args=[project.slug, record_id, button.pk]
            )
            notification.record_label = f"{button.name}: {label}"
        else:
            notification.record_url = reverse(
                "teambox_pages:record", args=[project.slug, record_id]
            )
            notification.record_label = label


def drawer_context(request, project):
    """The header's drawer, for layout.render_page."""
    unread = unread_notifications(request.user, project)
    stamp, count = notifications_stamp(unread)
    notifications = drawer_items(request, project, unread) if count else []
    return {
        "notifications": notifications,
        "notification_count": count,
        "notifications_stamp": stamp,
        "notifications_seen": max((n.pk for n in notifications), default=0),
    }


def render_list(request, project, notifications):
    """The drawer's list for the live refresh; its forms return to the page that polled."""
    context = {
        "project": project,
        "notifications": notifications,
        "back_to": request.headers.get("Referer", ""),
    }
    return render_to_string(LIST_TEMPLATE, context, request=request)


def back(request, project):
    """Where a drawer form returns: the page it was sent from, else the inbox. A script
    asks for no page (Accept: application/json) and gets 204."""
    if "application/json" in request.headers.get("Accept", ""):
        return HttpResponse(status=204)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("teambox_pages:inbox", args=[project.slug])
    return redirect(target)


@require_POST
@project_page
def mark_read(request, project, pk):
    notification = get_object_or_404(Notification, pk=pk, project=project, user=request.user)
    mark_notification_read(notification, request.user)
    return back(request, project)


@require_POST
@project_page
def clear_all(request, project):
    clear_notifications(request.user, project)
    return back(request, project)
