"""The inbox page: tabs, filters, search, unread counts, order, keyset pages, and a number
of queries that does not grow with the chats shown."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm import services as crm
from teambox.conversations import open_conversation, set_status
from teambox.inbox import Cursor, inbox_page
from teambox.models import Channel, Conversation, ConversationAssignee


def shown(client, project, **params):
    """The conversation ids the inbox lists, in order, for the logged-in user."""
    response = client.get(reverse("teambox_pages:inbox", args=[project.slug]), params)
    assert response.status_code == 200
    return [chat.pk for chat in response.context["page"].conversations]


def ids(team, *names):
    return [team["chats"][name].pk for name in names]


@pytest.fixture
def as_anita(client, team):
    client.force_login(team["a"])
    return client


@pytest.fixture
def as_boss(client, team):
    client.force_login(team["boss"])
    return client


def test_an_agent_s_tabs_are_their_chats_and_the_unassigned_ones_they_may_take(
    as_anita, project, team
):
    assert shown(as_anita, project) == ids(team, "a_own")
    assert shown(as_anita, project, tab="unassigned") == ids(team, "nobody", "sales")
    # "All" is for owners and admins: an agent asking for it gets their own chats.
    response = as_anita.get(reverse("teambox_pages:inbox", args=[project.slug]), {"tab": "all"})
    assert [chat.pk for chat in response.context["page"].conversations] == ids(team, "a_own")
    assert "Select a valid choice" in response.content.decode()


def test_admins_see_every_chat_newest_activity_first(as_boss, project, team):
    chats = team["chats"]
    Conversation.objects.filter(pk=chats["support"].pk).update(last_message_at=timezone.now())
    assert shown(as_boss, project, tab="all") == ids(team, "support", "nobody", "sales", "a_own")


def test_filters_and_search(as_boss, project, team, sandbox):
    chats = team["chats"]
    everything = {"tab": "all", "status": "any"}
    set_status(chats["sales"], Conversation.Status.RESOLVED)
    assert chats["sales"].pk not in shown(as_boss, project, tab="all")
    assert shown(as_boss, project, tab="all", status="resolved") == ids(team, "sales")
    support = chats["support"].department
    assert shown(as_boss, project, **everything, department=support.pk) == ids(team, "support")
    mail = Channel.objects.create(project=project, name="Mail", kind=Channel.Kind.EMAIL)
    by_mail, _ = open_conversation(mail, chats["nobody"].contact)
    assert shown(as_boss, project, **everything, channel=mail.pk) == [by_mail.pk]
    crm.add_tags(chats["a_own"].contact, ["VIP"])
    assert shown(as_boss, project, **everything, tag="vip") == ids(team, "a_own")
    assert shown(as_boss, project, **everything, assignee=team["a"].pk) == ids(team, "a_own")
    unassigned = shown(as_boss, project, **everything, assignee="none")
    assert set(unassigned) == {by_mail.pk, *ids(team, "nobody", "support", "sales")}
    assert shown(as_boss, project, **everything, q="lead 03") == ids(team, "support")
    assert shown(as_boss, project, **everything, q="+91 98000-00002") == ids(team, "sales")


def test_bad_filters_are_field_errors(as_boss, project, team):
    response = as_boss.get(
        reverse("teambox_pages:inbox", args=[project.slug]),
        {"tab": "all", "channel": "x", "assignee": "99999", "after": "garbage"},
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "Select a valid choice" in text
    assert "This page&#x27;s link is broken" in text
    assert len(response.context["page"].conversations) == 4


def test_unread_counts_are_the_reader_s(as_anita, project, team):
    ConversationAssignee.objects.filter(conversation=team["chats"]["a_own"]).update(unread_count=3)
    response = as_anita.get(reverse("teambox_pages:inbox", args=[project.slug]))
    [chat] = response.context["page"].conversations
    assert chat.unread == 3
    assert 'title="3 unread">3</span>' in response.content.decode()


def test_pages_follow_each_other_without_gaps_or_repeats(project, team, sandbox):
    for n in range(5):
        contact = crm.upsert_contact(project, f"91980000010{n}", name=f"More {n}")
        open_conversation(sandbox, contact)
    # Two chats with no activity time yet count as newest, and still page.
    Conversation.objects.filter(pk__in=ids(team, "sales", "support")).update(last_message_at=None)
    every = Conversation.objects.filter(project=project)
    expected = sorted(ids(team, "sales", "support"), reverse=True)
    expected += [
        pk
        for pk in every.order_by("-last_message_at", "-pk").values_list("pk", flat=True)
        if pk not in expected
    ]
    seen, cursor = [], None
    while True:
        page = inbox_page(every, team["boss"], after=cursor, size=3)
        seen += [chat.pk for chat in page.conversations]
        if page.next_cursor is None:
            break
        cursor = Cursor.parse(str(page.next_cursor))
    assert seen == expected


def test_queries_do_not_grow_with_the_chats_shown(as_boss, project, team, sandbox):
    url = reverse("teambox_pages:inbox", args=[project.slug])

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert as_boss.get(url, {"tab": "all"}).status_code == 200
        return len(queries)

    few = count()
    for n in range(8):
        contact = crm.upsert_contact(project, f"91980000020{n}", name=f"Many {n}")
        crm.add_tags(contact, ["a", "b"])
        conversation, _ = open_conversation(sandbox, contact)
        ConversationAssignee.objects.create(conversation=conversation, user=team["a"])
    assert len(as_boss.get(url, {"tab": "all"}).context["page"].conversations) == 12
    assert count() == few


def test_payload_strings_are_escaped_in_the_list(as_boss, project, team):
    contact = team["chats"]["nobody"].contact
    contact.name = '<script>alert("name")</script>'
    contact.save()
    text = as_boss.get(reverse("teambox_pages:inbox", args=[project.slug]), {"tab": "all"})
    text = text.content.decode()
    assert '<script>alert("name")' not in text
    assert "&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;" in text
