"""The live refresh: GET /teambox/<slug>/live/ every few seconds from static/teambox/live.js.

Short polling rather than Server-Sent Events: gunicorn's threaded workers would hold a
thread for every open tab for as long as an SSE stream stays open, and proxies cut long
streams; a poll holds a thread for a few milliseconds, needs nothing but Django, and
goes through the access rule on every request by construction, so an agent removed from
a chat gets nothing more of it on their next poll.

The answer is JSON of stamps (teambox/live.py): the page refetches its inbox list or
timeline only when a stamp moved. The notifications drawer comes as HTML when its stamp
moved, with the new notifications that asked for a browser notification. Each poll is
the agent's heartbeat. A fixed number of queries per poll, whatever the number of chats.
"""

from datetime import timedelta

from django.conf import settings
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ..agents import heartbeat
from ..live import conversation_stamp, inbox_stamp, notifications_stamp
from ..notifications import unread_notifications
from .access import project_page, visible_conversations
from .notifications import drawer_context, drawer_items, render_list
from .presence import agent_of, presence_context, presence_state

POLL_MILLISECONDS = 3000
LOST_ACCESS = "You no longer have access to this chat."


def heartbeat_due(agent, now):
    """A poll every few seconds need not write every time: a quarter of the presence
    window between writes keeps the agent online with few writes."""
    every = timedelta(seconds=max(1, settings.PICKY_AGENT_PRESENCE_SECONDS // 4))
    return agent.last_seen_at is None or agent.last_seen_at <= now - every


def chat_url(project, pk):
    return reverse("teambox_pages:conversation", args=[project.slug, pk]) if pk else ""


def number(text):
    return int(text) if text.isdigit() else None


@require_GET
@never_cache
@project_page
def live(request, project):
    agent = agent_of(request, project)
    if agent is not None:
        now = timezone.now()
        if heartbeat_due(agent, now):
            heartbeat(agent, at=now)
    conversations = visible_conversations(request.user, project, request.role)
    answer = {
        "interval": POLL_MILLISECONDS,
        "presence": presence_state(agent),
        "inbox": inbox_stamp(conversations, request.user),
    }
    chat = number(request.GET.get("conversation", ""))
    if chat is not None:
        stamp = conversation_stamp(conversations, chat)
        answer["conversation"] = (
            {"id": chat, "access": True, "stamp": stamp}
            if stamp is not None
            else {"id": chat, "access": False, "message": LOST_ACCESS}
        )
    answer["notifications"] = notifications_answer(request, project)
    return JsonResponse(answer)


def notifications_answer(request, project):
    """The drawer's stamp and count; when the page's stamp (?notifications=) is not the
    current one, its list as HTML and `alerts`: the notifications newer than the page's
    ?seen=<id> that asked for a browser notification (with their chat's URL, if any)."""
    unread = unread_notifications(request.user, project)
    stamp, count = notifications_stamp(unread)
    answer = {"stamp": stamp, "count": count}
    if stamp == request.GET.get("notifications"):
        return answer
    notifications = drawer_items(request, project, unread) if count else []
    seen = number(request.GET.get("seen", ""))
    answer["html"] = render_list(request, project, notifications)
    answer["seen"] = max((n.pk for n in notifications), default=seen or 0)
    answer["alerts"] = [
        {"id": n.pk, "title": n.title, "body": n.description, "url": chat_url(project, n.chat)}
        for n in notifications
        if n.browser and seen is not None and n.pk > seen
    ]
    return answer


def live_context(request, project, conversation=None):
    """What every page's frame needs for the live refresh (layout.render_page): the poll's
    URL is in base.html; here the stamps of what the page shows as rendered (so a change
    between the render and the first poll is not missed), the drawer and the presence
    switch."""
    conversations = visible_conversations(request.user, project, request.role)
    return {
        "live_inbox_stamp": inbox_stamp(conversations, request.user),
        "live_conversation_stamp": (
            conversation_stamp(conversations, conversation.pk) if conversation else ""
        ),
        **drawer_context(request, project),
        **presence_context(request, project),
    }
