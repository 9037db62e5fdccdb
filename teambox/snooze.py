"""Snoozed chats wake up: a beat sweep reopens each chat whose snooze time has come (the
customer's next message wakes it earlier, teambox/conversations.py)."""

from django.db import transaction
from django.utils import timezone

from crm import services as crm
from crm.models import TimelineEntry

from .models import Conversation

# Chats woken per sweep; the next sweep takes the rest.
WAKE_BATCH = 500


def wake_snoozed_chats(now=None):
    """Reopen the snoozed chats due by `now` (now by default), the longest due first, at
    most WAKE_BATCH of them; how many were woken. Each one's timeline says it woke up.

    The chats are locked while they wake, skipping those locked already: a chat the
    customer's message is reopening right now is left to it (it wakes once, not twice)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Conversation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Conversation.Status.SNOOZED, snoozed_until__lte=now)
            .select_related("contact", "channel")
            .order_by("snoozed_until", "pk")[:WAKE_BATCH]
        )
        Conversation.objects.filter(pk__in=[chat.pk for chat in due]).update(
            status=Conversation.Status.OPEN, snoozed_until=None, resolved_at=None
        )
        crm.add_timeline_entries(
            (
                chat.contact,
                TimelineEntry.Kind.STATUS,
                f"Open (woke up: snoozed until {chat.snoozed_until:%Y-%m-%d %H:%M %Z})",
                {
                    "conversation": chat.pk,
                    "channel": chat.channel.name,
                    "status": Conversation.Status.OPEN.value,
                    "previous": Conversation.Status.SNOOZED.value,
                },
            )
            for chat in due
        )
    return len(due)
