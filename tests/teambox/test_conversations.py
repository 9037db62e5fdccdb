"""Conversations: opened by the contact's messages (exactly one per contact and channel,
even in parallel), routed, answered, resolved, reopened; each change on the timeline."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm import services as crm
from crm.models import TimelineEntry
from teambox import conversations, inbound, services
from teambox.broadcasts import queue_batch, start_broadcast
from teambox.channels.base import Incoming
from teambox.models import Broadcast, Conversation, ConversationAssignee, Message
from tests.builders import build_agent
from tests.queries import statements

Kind = TimelineEntry.Kind


def write(client, channel, number, text, name=""):
    """The contact at `number` writes `text` to the sandbox channel's webhook."""
    body = {"number": number, "message": text, "name": name}
    response = client.post(
        channel.webhook_path, data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return Message.objects.filter(direction="in").order_by("-id").first()


def lines(contact):
    return [(line.kind, line.text) for line in crm.timeline_of(contact)]


@pytest.fixture
def anu(project):
    return build_agent(project, "anu")


def test_a_first_message_opens_a_conversation_routed_to_an_online_agent(
    client, project, sandbox, anu
):
    message = write(client, sandbox, "+91 98470 12345", "Where is my order?", name="Asha")
    conversation = Conversation.objects.get()
    asha = message.contact
    assert (conversation.contact, conversation.channel, conversation.status) == (
        asha, sandbox, "open",
    )  # fmt: skip
    assert conversation.waiting_since == conversation.last_message_at == message.created_at
    assert list(conversation.assignees.all()) == [anu.user]
    assert lines(asha)[-1] == (Kind.MESSAGE_IN, "Where is my order?")
    entry = asha.timeline.get(kind=Kind.MESSAGE_IN)
    assert entry.data == {
        "message": message.pk, "channel": "Sandbox", "conversation": conversation.pk,
    }  # fmt: skip

    # A second message counts as unread for the assignee and keeps the wait's start.
    later = write(client, sandbox, "919847012345", "Hello?")
    conversation.refresh_from_db()
    assert Conversation.objects.count() == 1
    assert conversation.waiting_since == message.created_at
    assert conversation.last_message_at == later.created_at
    assert ConversationAssignee.objects.get().unread_count == 2
    conversations.mark_read(conversation, anu.user)
    assert ConversationAssignee.objects.get().unread_count == 0


def test_a_reply_answers_the_customer_and_a_broadcast_does_not(client, project, sandbox, anu):
    asha = write(client, sandbox, "919847012345", "Hi").contact
    reply = services.queue_message(sandbox, asha, body="Hello Asha, how can we help?")
    conversation = Conversation.objects.get()
    assert conversation.waiting_since is None
    assert conversation.last_message_at == reply.created_at
    assert lines(asha)[0] == (Kind.MESSAGE_OUT, "Hello Asha, how can we help?")
    assert asha.timeline.get(kind=Kind.MESSAGE_OUT).data == {
        "message": reply.pk, "channel": "Sandbox",
    }  # fmt: skip

    waiting = write(client, sandbox, "919847012345", "Still there?")
    broadcast = Broadcast.objects.create(
        project=project, channel=sandbox, name="Sale", body="Sale today, {{ contact.name }}"
    )
    start_broadcast(broadcast)
    queue_batch(broadcast.pk)
    conversation.refresh_from_db()
    assert conversation.waiting_since == waiting.created_at
    assert lines(asha)[0][0] == Kind.MESSAGE_OUT
    assert asha.timeline.filter(kind=Kind.MESSAGE_OUT).count() == 2


def test_a_message_without_a_contact_opens_nothing(client, sandbox):
    body = {"number": "VM-AMAZON", "message": "Your parcel"}
    client.post(sandbox.webhook_path, data=json.dumps(body), content_type="application/json")
    assert Message.objects.get().contact is None
    assert not Conversation.objects.exists()
    assert not TimelineEntry.objects.exists()


def test_resolving_then_writing_again_reopens_the_conversation(client, project, sandbox, anu):
    asha = write(client, sandbox, "919847012345", "Hi").contact
    conversation = Conversation.objects.get()
    conversations.set_status(conversation, "resolved", author=anu.user)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.waiting_since) == ("resolved", None)
    assert conversation.resolved_at is not None
    assert lines(asha)[0] == (Kind.STATUS, "Resolved (was open)")
    assert asha.timeline.filter(kind=Kind.STATUS).first().author == anu.user

    write(client, sandbox, "919847012345", "One more question")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.resolved_at) == ("open", None)
    assert conversation.waiting_since is not None
    assert Conversation.objects.count() == 1
    assert (Kind.STATUS, "Open (was resolved)") in lines(asha)
    # Reopened with its agent still assigned: nobody else is added.
    assert list(conversation.assignees.all()) == [anu.user]


def test_open_conversation_says_when_it_opened_one(project, other_project, sandbox):
    asha = crm.upsert_contact(project, "919847012345", name="Asha")
    first, opened = conversations.open_conversation(sandbox, asha)
    assert opened
    assert conversations.open_conversation(sandbox, asha) == (first, False)
    conversations.set_status(first, "snoozed", snoozed_until=timezone.now() + timedelta(hours=2))
    again, opened = conversations.open_conversation(sandbox, asha)
    assert (again, opened, again.status, again.snoozed_until) == (first, True, "open", None)
    stranger = crm.upsert_contact(other_project, "919847012345")
    with pytest.raises(conversations.ConversationError, match="not a contact of the project"):
        conversations.open_conversation(sandbox, stranger)


def test_statuses_and_notes_refuse_what_makes_no_sense(project, sandbox, anu):
    asha = crm.upsert_contact(project, "919847012345", name="Asha")
    conversation, _ = conversations.open_conversation(sandbox, asha)
    with pytest.raises(conversations.ConversationError, match="'closed' is not a status"):
        conversations.set_status(conversation, "closed")
    with pytest.raises(conversations.ConversationError, match="Only a snoozed"):
        conversations.set_status(conversation, "pending", snoozed_until=timezone.now())
    with pytest.raises(conversations.ConversationError, match="needs text"):
        conversations.add_internal_note(conversation, "  ", anu.user)
    conversations.set_status(conversation, "open")
    assert not asha.timeline.exists()

    note = conversations.add_internal_note(conversation, "VIP, answer first", anu.user)
    assert (note.kind, note.author, note.data["conversation"]) == (
        Kind.NOTE, anu.user, conversation.pk,
    )  # fmt: skip


def incoming(count, senders, prefix):
    return [
        Incoming(
            address=f"9198470{n % senders:05d}",
            body=f"Message {n}",
            name="",
            media_url="",
            provider_id=f"{prefix}-{n}",
            payload={},
        )
        for n in range(count)
    ]


def inbound_statements(sandbox, count, senders):
    with CaptureQueriesContext(connection) as captured:
        inbound.store_inbound(sandbox, incoming(count, senders, f"of-{count}"), [], timezone.now())
    return len(statements(captured.captured_queries))


@pytest.mark.parametrize("assigned", [False, True], ids=["new chats", "assigned chats"])
def test_many_messages_cost_about_what_one_costs(project, sandbox, anu, assigned):
    """Per new chat, routing's few statements; the rest does not grow with the messages."""
    if assigned:
        # The senders' conversations exist and are assigned: nothing to route.
        inbound.store_inbound(sandbox, incoming(20, 20, "first"), [], timezone.now())
        assert ConversationAssignee.objects.count() == 20
        ConversationAssignee.objects.update(unread_count=0)
    one = inbound_statements(sandbox, 1, 1)
    twenty = inbound_statements(sandbox, 20, 20)
    routed = 0 if assigned else 19
    routing = 25  # at most, per chat routed (teambox/assignment)
    assert twenty - one <= routed * routing + 2, (one, twenty)
    if assigned:
        assert twenty == one, (one, twenty)
        assert (
            ConversationAssignee.objects.get(
                conversation__contact__number="919847000000"
            ).unread_count
            == 2
        )


def test_a_project_without_agents_or_routing_rules_routes_no_chat(project, sandbox):
    """A shop that only automates: thousands of new chats cost what one costs."""
    one = inbound_statements(sandbox, 1, 1)
    # One more: the first sender, who wrote before, has their last interaction updated.
    assert inbound_statements(sandbox, 20, 20) == one + 1
    assert not ConversationAssignee.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_messages_of_a_new_contact_arriving_at_once_give_one_conversation(
    project, sandbox, anu
):
    """Two webhooks, each in its own transaction on its own connection, released together."""
    start = threading.Barrier(2, timeout=30)
    failures = []

    def webhook(text):
        try:
            start.wait()
            inbound.accept_webhook(sandbox, {"number": "919847012345", "message": text})
        except Exception as exc:  # reported by the assertion below
            failures.append(exc)
        finally:
            connections.close_all()

    for attempt in range(5):
        threads = [threading.Thread(target=webhook, args=(f"{attempt}-{n}",)) for n in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert Conversation.objects.count() == 1
        conversation = Conversation.objects.get()
        assert list(conversation.assignees.all()) == [anu.user]
        assert ConversationAssignee.objects.get().unread_count == 2
        assert conversation.contact.timeline.filter(kind=Kind.MESSAGE_IN).count() == 2
        # The next round starts with a new contact.
        Conversation.objects.all().delete()
        TimelineEntry.objects.all().delete()
        Message.objects.all().delete()
        conversation.contact.delete()
