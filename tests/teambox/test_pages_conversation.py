"""The conversation page (read side): the contact's timeline with each message's delivery
status, notes, event-feed cards drawn safely, escaping, CSRF, and a number of queries that
does not grow with the timeline."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm import services as crm
from crm.models import TimelineEntry
from teambox.conversations import add_internal_note, open_conversation, record_inbound
from teambox.message_log import record_outbound
from teambox.models import ConversationAssignee, Message
from teambox.pages.conversation import CHAT_COLUMN_SIZE
from teambox.timeline import conversation_timeline

Kind = TimelineEntry.Kind


@pytest.fixture
def chat(team):
    return team["chats"]["a_own"]


@pytest.fixture
def as_anita(client, team):
    client.force_login(team["a"])
    return client


def url(chat):
    return reverse("teambox_pages:conversation", args=[chat.project.slug, chat.pk])


def message(chat, direction, body="", **fields):
    stored = Message.objects.create(
        project=chat.project,
        channel=chat.channel,
        contact=chat.contact,
        direction=direction,
        address=chat.contact.number,
        body=body,
        **fields,
    )
    (record_inbound if direction == "in" else record_outbound)(stored)
    return stored


def card(chat, **data):
    return crm.add_timeline_entry(chat.contact, Kind.EVENT_FEED, data.get("subject", ""), data)


def test_the_timeline_shows_messages_with_their_status_notes_and_changes(as_anita, chat, team):
    message(chat, "in", "Is my order shipped?", status="received")
    message(chat, "out", "It left today.", status="read")
    message(chat, "out", "Tracking", status="failed", error="The number is not on WhatsApp.")
    add_internal_note(chat, "Call after 5", team["a"])
    text = as_anita.get(url(chat)).content.decode().split('id="timeline"')[1]
    order = [
        "Assigned to Anita",
        "Is my order shipped?",
        "It left today.",
        ">Read</span>",
        "Tracking",
        ">Failed</span>",
        "The number is not on WhatsApp.",
        "Internal note",
        "Call after 5",
    ]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)
    assert 'class="entry message message-in"' in text


def test_opening_the_chat_reads_it(as_anita, chat, team):
    ConversationAssignee.objects.filter(conversation=chat).update(unread_count=4)
    as_anita.get(url(chat))
    assert ConversationAssignee.objects.get(conversation=chat).unread_count == 0


def test_cards_are_drawn_with_checked_colours_and_web_links_only(as_anita, chat):
    card(
        chat,
        subject="Order <b>1042</b>",
        body="2 lamps",
        media_url="javascript:alert(1)",
        background_colour="teal",
        border_colour="red;background:url(https://evil.example/x)",
        buttons=[
            {"name": "Open order", "url": "https://shop.example/o/1042", "opens": "inline",
             "background_colour": "#1a7f37", "text_colour": "White"},
            {"name": "Invoice", "url": "https://shop.example/i/1042", "opens": "new_window"},
            {"name": "Evil", "url": "javascript:alert(1)", "opens": "inline"},
        ],
    )  # fmt: skip
    text = as_anita.get(url(chat)).content.decode()
    assert 'style="background-color:#008080"' in text
    assert "evil.example" not in text
    assert "Order &lt;b&gt;1042&lt;/b&gt;" in text
    assert (
        '<a class="card-button" href="https://shop.example/o/1042" target="card-frame" '
        'rel="noopener noreferrer" data-drawer style="background-color:#1a7f37;color:#ffffff">'
    ) in text
    assert (
        '<a class="card-button" href="https://shop.example/i/1042" target="_blank" '
        'rel="noopener noreferrer">'
    ) in text
    assert "javascript:" not in text
    assert (
        '<span class="card-button card-button-dead" title="Not a web address">Evil</span>' in text
    )
    [frame] = re.findall(r"<iframe[^>]*>", text)
    assert 'name="card-frame"' in frame
    sandbox = re.search(r'sandbox="([^"]*)"', frame).group(1).split()
    assert "allow-scripts" in sandbox and "allow-same-origin" not in sandbox


def test_payload_strings_are_escaped(as_anita, chat):
    chat.contact.name = "<script>alert('name')</script>"
    chat.contact.save()
    message(chat, "in", "<img src=x onerror=alert(1)>", status="received")
    text = as_anita.get(url(chat)).content.decode()
    assert "<script>alert" not in text
    assert "<img src=x" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in text


def test_forms_need_the_csrf_token(chat, team):
    client = Client(enforce_csrf_checks=True)
    client.force_login(team["a"])
    page = client.get(url(chat))
    forms = re.findall(r"<form[^>]*method=\"post\".*?</form>", page.content.decode(), re.S)
    assert forms
    assert all("csrfmiddlewaretoken" in form for form in forms)
    assert client.post(url(chat), {"text": "hi"}).status_code == 403


def test_queries_do_not_grow_with_the_timeline(as_anita, chat):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert as_anita.get(url(chat)).status_code == 200
        return len(queries)

    message(chat, "in", "first", status="received")
    few = count()
    for n in range(6):
        message(chat, "out", f"reply {n}", status="delivered")
        card(chat, subject=f"Card {n}", buttons=[{"name": "Go", "url": "https://x.example"}])
    assert count() == few


def test_the_column_of_open_chats_shows_a_screenful_and_links_to_the_rest(
    as_anita, chat, team, sandbox
):
    project = chat.project
    assert "All my open chats" not in as_anita.get(url(chat)).content.decode()
    for n in range(CHAT_COLUMN_SIZE):
        contact = crm.upsert_contact(project, f"9198000003{n:02d}", name=f"Column {n}")
        other, _ = open_conversation(sandbox, contact)
        ConversationAssignee.objects.create(conversation=other, user=team["a"])
    response = as_anita.get(url(chat))
    html = response.content.decode()
    assert len(response.context["page"].conversations) == CHAT_COLUMN_SIZE
    assert html.count('<li class="chat-row') == CHAT_COLUMN_SIZE
    inbox = reverse("teambox_pages:inbox", args=[project.slug])
    assert f'<a href="{inbox}">All my open chats</a>' in html


def test_earlier_lines_come_in_pages(chat, team):
    for n in range(5):
        add_internal_note(chat, f"note {n}", team["a"])
    latest = conversation_timeline(chat, size=3)
    assert [entry.text for entry in latest.entries] == ["note 2", "note 3", "note 4"]
    earlier = conversation_timeline(chat, before=latest.earlier, size=2)
    assert [entry.text for entry in earlier.entries] == ["note 0", "note 1"]
    first = conversation_timeline(chat, before=earlier.earlier, size=2)
    assert [entry.kind for entry in first.entries] == [Kind.ASSIGNMENT]
    assert first.earlier is None
