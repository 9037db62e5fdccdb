"""What a conversation's page shows of its contact's timeline: the latest lines, oldest
first, each message line with its message (delivery status, error, media) read in one
query for the whole page."""

from dataclasses import dataclass

from django.db.models import Q

from crm.models import TimelineEntry

from .models import Message

PAGE_SIZE = 100
MESSAGE_KINDS = (TimelineEntry.Kind.MESSAGE_IN, TimelineEntry.Kind.MESSAGE_OUT)


@dataclass
class TimelinePage:
    entries: list
    # The id of the oldest line shown when older ones exist: the "earlier" link's value.
    earlier: int | None


def conversation_timeline(conversation, *, before=None, size=PAGE_SIZE):
    """The `size` latest lines of the conversation's contact's timeline (before the line
    of id `before` when given), oldest first, authors loaded; a message line has
    `message` (its Message, or None when it is gone)."""
    lines = TimelineEntry.objects.filter(
        project_id=conversation.project_id, contact_id=conversation.contact_id
    )
    if before is not None:
        anchor = lines.filter(pk=before).values_list("created_at", flat=True).first()
        if anchor is not None:
            lines = lines.filter(Q(created_at__lt=anchor) | Q(created_at=anchor, pk__lt=before))
    entries = list(lines.select_related("author").order_by("-created_at", "-pk")[: size + 1])
    earlier = entries[size - 1].pk if len(entries) > size else None
    entries = entries[:size]
    entries.reverse()
    attach_messages(conversation.project_id, entries)
    return TimelinePage(entries, earlier)


def attach_messages(project_id, entries):
    """Set `message` (its channel loaded) on each message line, from one query for the
    messages and one for their channels (a page's hundred messages share one or two: one
    instance each, not a hundred)."""
    ids = {
        entry.data.get("message")
        for entry in entries
        if entry.kind in MESSAGE_KINDS and isinstance(entry.data.get("message"), int)
    }
    # The payload names a received message's media, order or button reply (teambox/media.py).
    messages = Message.objects.filter(project_id=project_id, pk__in=ids).prefetch_related("channel")
    by_id = {message.pk: message for message in messages} if ids else {}
    for entry in entries:
        if entry.kind in MESSAGE_KINDS:
            entry.message = by_id.get(entry.data.get("message"))
