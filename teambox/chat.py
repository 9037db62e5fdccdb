"""What an agent does to a chat from its page: reply (sent once however often the form is
submitted), lock the chat to its assignees, transfer it, and who may do so.

The lock: while a locked chat has assignees, only they reply to it; an owner or admin who
sees every chat does not write over its agent. Its other actions (assign, transfer,
status, kick, unlock) stay open to whoever sees the chat, so a chat whose agent is away
can still be handed on.
"""

from crm import services as crm
from crm.models import TimelineEntry

from .assignment import assign_users, remove_assignees
from .models import Agent, Conversation, ConversationAssignee, Message
from .services import MessagingError, queue_message

# Idempotency keys of agents' replies: one per reply form shown (its nonce).
REPLY_KEY = "teambox-reply:{conversation}:{nonce}"


class ChatRefused(Exception):
    """The user may not do this to the chat; the message says why."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def is_assignee(conversation, user):
    return ConversationAssignee.objects.filter(conversation=conversation, user=user).exists()


def is_locked_against(conversation, user):
    """Whether the chat is locked and has assignees, `user` not among them."""
    if not conversation.locked:
        return False
    assigned = set(
        ConversationAssignee.objects.filter(conversation=conversation).values_list(
            "user_id", flat=True
        )
    )
    return bool(assigned) and user.pk not in assigned


def reply_refusal(conversation, user):
    """Why `user` may not reply to the chat, or "" when they may."""
    if is_locked_against(conversation, user):
        return (
            "This chat is locked to its assignees: only they can reply. "
            "Ask one of them, or an admin, to assign it to you."
        )
    return ""


def send_reply(
    conversation,
    author,
    *,
    nonce,
    body="",
    media_url="",
    template="",
    template_language="en",
    template_params=(),
):
    """Send an agent's reply through the chat's channel to its contact; the same `nonce`
        (one per reply form shown) sends once, however often the form is submitted; its line
    on the timeline names `author`. Raises
        ChatRefused when the chat is locked against `author`, MessagingError when the message
        cannot go out (no session on an official channel without a template, ...)."""
    refusal = reply_refusal(conversation, author)
    if refusal:
        raise ChatRefused(refusal)
    if not conversation.channel.enabled:
        raise MessagingError(f"The channel {conversation.channel.name!r} is disabled.")
    message = queue_message(
        conversation.channel,
        conversation.contact,
        body=body,
        media_url=media_url,
        template=template,
        template_language=template_language or "en",
        template_params=template_params,
        idempotency_key=REPLY_KEY.format(conversation=conversation.pk, nonce=nonce),
    )
    crm.credit_timeline_entries(
        conversation.contact, TimelineEntry.Kind.MESSAGE_OUT, author, message=message.pk
    )
    return message


def sent_templates(channel, most=50):
    """Names of the templates the channel has sent without failing (so WhatsApp approved
    them), most recent first: what the reply box suggests, as Picky keeps no template list."""
    names = (
        Message.objects.filter(channel=channel, direction=Message.Direction.OUT)
        .exclude(template="")
        .exclude(status=Message.Status.FAILED)
        .order_by("-created_at")
        .values_list("template", "template_language")[: most * 4]
    )
    found = {}
    for name, language in names:
        found.setdefault(name, language)
    return list(found.items())[:most]


def set_locked(conversation, locked, author):
    """Lock the chat to its assignees (or unlock it); the change goes on the timeline."""
    locked = bool(locked)
    if conversation.locked == locked:
        return conversation
    Conversation.objects.filter(pk=conversation.pk).update(locked=locked)
    conversation.locked = locked
    crm.add_timeline_entry(
        conversation.contact,
        TimelineEntry.Kind.STATUS,
        "Locked: only its assignees reply" if locked else "Unlocked: anyone who sees it replies",
        data={
            "conversation": conversation.pk,
            "channel": conversation.channel.name,
            "locked": locked,
        },
        author=author,
    )
    return conversation


def transfer_conversation(conversation, users=(), *, departments=(), author=None, note=""):
    """Hand the chat to `users` and the enabled agents of `departments` in place of its
    assignees; returns the assignees after the call. Raises ChatRefused when that is
    nobody (a department without agents)."""
    targets = {getattr(user, "pk", user) for user in users}
    targets.update(
        Agent.objects.filter(
            project_id=conversation.project_id, enabled=True, departments__in=list(departments)
        ).values_list("user_id", flat=True)
    )
    if not targets:
        raise ChatRefused("Nobody would take the chat: that department has no agents.")
    previous = ConversationAssignee.objects.filter(conversation=conversation)
    leaving = [
        user_id for user_id in previous.values_list("user_id", flat=True) if user_id not in targets
    ]
    assignees = assign_users(conversation, users, departments=departments, author=author, note=note)
    if leaving:
        remove_assignees(conversation, leaving, author=author)
    return [user for user in assignees if user.pk not in leaving]
