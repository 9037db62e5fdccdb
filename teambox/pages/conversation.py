"""A conversation: the contact's timeline (messages with their delivery status, notes,
event-feed cards, assignments and status changes) beside the agent's chat list; the
reply box and the chat's actions (P2) and the contact panel (P2) are included by the
template."""

from crm.models import TimelineEntry

from ..conversations import mark_read
from ..inbox import MINE, filter_inbox, inbox_page
from ..media import media_of
from ..timeline import MESSAGE_KINDS, conversation_timeline
from .access import get_visible_conversation, project_page, visible_conversations
from .cards import card_of
from .inbox import show_rows
from .layout import render_page
from .moments import Moment

Kind = TimelineEntry.Kind
# The column of the agent's open chats beside the chat: what fits a screen, with a
# link to the inbox for the rest (a row costs as much to render as two timeline lines).
CHAT_COLUMN_SIZE = 20


def entry_id(text):
    """The timeline line id of the "earlier" link, or None when it is not one."""
    return int(text) if str(text or "").isdigit() else None


def show_entries(chat, entries):
    """Set on each timeline line what partials/timeline_entry.html prints, ready to
    print (a page has a hundred lines): `moment`, `author_name`; on message lines
    `direction` ("in" or "out"), `media` and `other_channel` (the channel's name when
    not the chat's); on event-feed lines `card`."""
    for entry in entries:
        entry.moment = Moment(entry.created_at)
        author = entry.author
        entry.author_name = (author.get_full_name() or author.get_username()) if author else ""
        entry.direction = ""
        if entry.kind in MESSAGE_KINDS:
            entry.direction = "in" if entry.kind == Kind.MESSAGE_IN else "out"
            entry.media = media_of(entry.message) if entry.message is not None else None
            channel = entry.data.get("channel") if isinstance(entry.data, dict) else None
            entry.other_channel = channel if channel and channel != chat.channel.name else ""
        elif entry.kind == Kind.EVENT_FEED:
            entry.card = card_of(entry.data)
    return entries


@project_page
def conversation(request, project, pk):
    chat = get_visible_conversation(request.user, project, pk, request.role)
    timeline = conversation_timeline(chat, before=entry_id(request.GET.get("before")))
    show_entries(chat, timeline.entries)
    mark_read(chat, request.user)
    mine = filter_inbox(
        visible_conversations(request.user, project, request.role), request.user, tab=MINE,
        status=chat.Status.OPEN,
    )  # fmt: skip
    page = inbox_page(mine, request.user, size=CHAT_COLUMN_SIZE)
    show_rows(project, page.conversations)
    return render_page(
        request,
        "teambox/conversation.html",
        {
            "conversation": chat,
            "timeline": timeline,
            "page": page,
            "current": chat,
            "Kind": Kind,
        },
    )
