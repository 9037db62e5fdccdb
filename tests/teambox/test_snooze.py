"""Snoozed chats wake up when their time comes (the beat sweep), or earlier when the
customer writes."""

from datetime import timedelta

from django.utils import timezone

from crm.models import TimelineEntry
from teambox.conversations import open_conversation, set_status
from teambox.models import Conversation
from teambox.snooze import wake_snoozed_chats


def test_a_snoozed_chat_reopens_when_its_time_comes(sandbox, asha):
    chat, _ = open_conversation(sandbox, asha)
    now = timezone.now()
    set_status(chat, Conversation.Status.SNOOZED, snoozed_until=now + timedelta(hours=2))
    resolved_chat, _ = open_conversation(
        sandbox,
        asha.__class__.objects.create(project=asha.project, number="919800000009", name="Ravi"),
    )
    set_status(resolved_chat, Conversation.Status.RESOLVED)

    assert wake_snoozed_chats(now + timedelta(hours=1)) == 0
    chat.refresh_from_db()
    assert chat.status == Conversation.Status.SNOOZED

    assert wake_snoozed_chats(now + timedelta(hours=2)) == 1
    chat.refresh_from_db()
    assert (chat.status, chat.snoozed_until) == (Conversation.Status.OPEN, None)
    assert TimelineEntry.objects.filter(
        contact=asha, kind=TimelineEntry.Kind.STATUS, text="Open (was snoozed)"
    ).exists()
    resolved_chat.refresh_from_db()
    assert resolved_chat.status == Conversation.Status.RESOLVED
    assert wake_snoozed_chats(now + timedelta(hours=3)) == 0
