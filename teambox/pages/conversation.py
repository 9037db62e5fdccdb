"""A conversation: the contact's timeline, the reply box and the chat's actions (P2),
the contact panel (P2)."""

from .access import get_visible_conversation, project_page
from .layout import render_page


@project_page
def conversation(request, project, pk):
    chat = get_visible_conversation(request.user, project, pk, request.role)
    return render_page(request, "teambox/conversation.html", {"conversation": chat})
