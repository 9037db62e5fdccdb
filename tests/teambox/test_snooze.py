"""Snoozed chats wake up when their time comes (the beat sweep), or earlier when the
customer writes."""

from datetime import UTC, datetime, timedelta

import time_machine
from django.utils import timezone

from crm import services as crm
from crm.models import TimelineEntry
from teambox import snooze
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
        contact=asha, kind=TimelineEntry.Kind.STATUS, text__startswith="Open (woke up"
    ).exists()
    resolved_chat.refresh_from_db()
    assert resolved_chat.status == Conversation.Status.RESOLVED
    assert wake_snoozed_chats(now + timedelta(hours=3)) == 0


MONDAY_9AM = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def snoozed_chats(sandbox, hours):
    """A chat per entry of `hours`, each snoozed until that many hours after 9am."""
    chats = []
    for n, hour in enumerate(hours):
        contact = crm.upsert_contact(sandbox.project, f"91984700000{n}", name=f"Lead {n}")
        chat, _ = open_conversation(sandbox, contact)
        set_status(
            chat, Conversation.Status.SNOOZED, snoozed_until=MONDAY_9AM + timedelta(hours=hour)
        )
        chats.append(chat)
    return chats


def statuses(chats):
    return [Conversation.objects.get(pk=chat.pk).status for chat in chats]


def test_the_sweep_wakes_snoozed_chats_when_the_clock_reaches_them_in_batches(sandbox, monkeypatch):
    monkeypatch.setattr(snooze, "WAKE_BATCH", 2)
    with time_machine.travel(MONDAY_9AM, tick=False) as clock:
        later, first, second, third = snoozed_chats(sandbox, [5, 1, 2, 3])
        assert wake_snoozed_chats() == 0

        clock.move_to(MONDAY_9AM + timedelta(hours=4))
        # Three are due: a batch of two, the longest due first ...
        assert wake_snoozed_chats() == 2
        assert statuses([first, second, third, later]) == ["open", "open", "snoozed", "snoozed"]
        # ... and the next sweep takes the rest of those due.
        assert wake_snoozed_chats() == 1
        assert wake_snoozed_chats() == 0
        assert statuses([third, later]) == ["open", "snoozed"]

        clock.move_to(MONDAY_9AM + timedelta(hours=5))
        assert wake_snoozed_chats() == 1
    woke = TimelineEntry.objects.get(contact=first.contact, text__contains="woke up")
    assert woke.kind == TimelineEntry.Kind.STATUS
    assert woke.text == "Open (woke up: snoozed until 2026-12-07 10:00 UTC)"
    assert woke.created_at == MONDAY_9AM + timedelta(hours=4)
    assert (woke.data["status"], woke.data["previous"]) == ("open", "snoozed")
    assert woke.data["conversation"] == first.pk and woke.data["channel"] == "Sandbox"


def test_a_chat_its_customer_woke_first_is_not_woken_again(sandbox):
    with time_machine.travel(MONDAY_9AM, tick=False) as clock:
        [chat] = snoozed_chats(sandbox, [2])
        clock.move_to(MONDAY_9AM + timedelta(hours=1))
        assert open_conversation(sandbox, chat.contact) == (chat, True)
        clock.move_to(MONDAY_9AM + timedelta(hours=3))
        assert wake_snoozed_chats() == 0
    assert statuses([chat]) == ["open"]
    assert not TimelineEntry.objects.filter(text__contains="woke up").exists()
