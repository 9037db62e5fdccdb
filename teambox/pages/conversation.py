"""A conversation: the contact's timeline (messages with their delivery status, notes,
event-feed cards, assignments and status changes) beside the agent's chat list; the
reply box and the chat's actions (P2) and the contact panel (P2) are included by the
template."""

from crm.models import TimelineEntry

from ..conversations import mark_read
from ..inbox import MINE, filter_inbox, inbox_page
from ..media import media_of
from ..timeline import conversation_timeline
from .access import get_visible_conversation, project_page, visible_conversations
from .cards import card_of
from .layout import render_page

Kind = TimelineEntry.Kind


def entry_id(text):
    """The timeline line id of the "earlier" link, or None when it is not one."""
    return int(text) if str(text or "").isdigit() else None


@project_page
def conversation(request, project, pk):
    chat = get_visible_conversation(request.user, project, pk, request.role)
    timeline = conversation_timeline(chat, before=entry_id(request.GET.get("before")))
    for entry in timeline.entries:
        if entry.kind == Kind.EVENT_FEED:
            entry.card = card_of(entry.data)
        elif getattr(entry, "message", None) is not None:
            entry.media = media_of(entry.message)
    mark_read(chat, request.user)
    mine = filter_inbox(
        visible_conversations(request.user, project, request.role), request.user, tab=MINE,
        status=chat.Status.OPEN,
    )  # fmt: skip
    return render_page(
        request,
        "teambox/conversation.html",
        {
            "conversation": chat,
            "assignees": [a.user for a in chat.assignments.select_related("user").order_by("pk")],
            "timeline": timeline,
            "page": inbox_page(mine, request.user),
            "current": chat,
            "Kind": Kind,
        },
    )
