"""What changed for an agent since their page last looked: stamps the live refresh compares.

A stamp is a short text that changes whenever what a part of a page shows changes (the
inbox list, the open chat's timeline, the notifications drawer); the page refetches
that part only when its stamp moved. Each stamp is a query or two, whatever the number
of chats or messages, so a poll every few seconds costs the same for every agent.
"""

from django.db.models import Count, FilteredRelation, Max, OuterRef, Q, Subquery, Sum

from crm.models import TimelineEntry

from .models import Conversation, Message

DRAWER_SIZE = 50


def inbox_stamp(conversations, reader):
    """Changes when a chat of `conversations` (what `reader` may see) appears, leaves,
    gets a message, changes status or assignees, or `reader`'s unread counts move. One
    query: `reader`'s assignment of each chat is joined in (one at most), rather than
    summed apart over the chats' ids, which evaluated the access rule again for each."""
    by_status = {
        status: Count("pk", filter=Q(status=status)) for status in Conversation.Status.values
    }
    figures = (
        conversations.order_by()
        .annotate(
            reader_assignment=FilteredRelation("assignments", condition=Q(assignments__user=reader))
        )
        .aggregate(
            newest=Max("pk"),
            last_message=Max("last_message_at"),
            assignments=Sum("assignment_version"),
            **by_status,
            unread=Sum("reader_assignment__unread_count"),
        )
    )
    last = figures.pop("last_message")
    return "-".join(
        [last.isoformat() if last else "", *(str(value or 0) for value in figures.values())]
    )


def conversation_stamp(conversations, pk):
    """The stamp of chat `pk` among `conversations` (what the reader may see), or None
    when it is not among them: changes with a new timeline line, a message's delivery
    status, the chat's status, assignees or lock."""
    latest_entry = (
        TimelineEntry.objects.filter(contact_id=OuterRef("contact_id"))
        .order_by("-pk")
        .values("pk")[:1]
    )
    latest_message = (
        Message.objects.filter(contact_id=OuterRef("contact_id"), channel_id=OuterRef("channel_id"))
        .order_by("-updated_at")
        .values("updated_at")[:1]
    )
    row = (
        conversations.filter(pk=pk)
        .annotate(entry=Subquery(latest_entry), message=Subquery(latest_message))
        .values_list("entry", "message", "status", "assignment_version", "locked")
        .first()
    )
    if row is None:
        return None
    entry, message, status, version, locked = row
    return f"{entry or 0}-{message.isoformat() if message else ''}-{status}-{version}-{locked:d}"


def notifications_stamp(unread):
    """Changes when an unread notification (of the `unread` queryset) arrives or goes."""
    figures = unread.order_by().aggregate(count=Count("pk"), newest=Max("pk"))
    return f"{figures['count']}-{figures['newest'] or 0}", figures["count"]


def drawer_notifications(unread):
    """The drawer's notifications, newest first (contact and macro button loaded)."""
    return list(
        unread.select_related("contact", "macro_button").order_by("-created_at", "-pk")[
            :DRAWER_SIZE
        ]
    )
