"""Snoozed chats wake up: a beat sweep reopens each chat whose snooze time has come (the
customer's next message wakes it earlier, teambox/conversations.py)."""

from django.utils import timezone

from .conversations import reopen
from .models import Conversation

# Chats woken per sweep; the next sweep takes the rest.
WAKE_BATCH = 500


def wake_snoozed_chats(now=None):
    """Reopen the snoozed chats due by `now` (now by default); how many were woken."""
    now = now or timezone.now()
    due = (
        Conversation.objects.filter(status=Conversation.Status.SNOOZED, snoozed_until__lte=now)
        .select_related("contact", "channel")
        .order_by("snoozed_until", "pk")[:WAKE_BATCH]
    )
    return sum(reopen(conversation) for conversation in due)
