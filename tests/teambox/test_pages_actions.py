"""The conversation page's actions (reply, note, assign, transfer, status, kick, lock) and
its contact panel (tags, notes, reminders, the contact's connector runs), through the
teambox pages with a logged-in client."""

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectors.models import Event, Run
from crm.models import Reminder, TimelineEntry
from teambox.assignment import assign_users
from teambox.conversations import open_conversation
from teambox.models import Conversation, ConversationAssignee, Department, Message
from tests.builders import build_connector

Kind = TimelineEntry.Kind


def url(name, project, chat):
    return reverse(f"teambox_pages:{name}", args=[project.slug, chat.pk])


def page(client, project, chat):
    response = client.get(url("conversation", project, chat))
    assert response.status_code == 200
    return response.content.decode()


def flash(response):
    return [str(message) for message in response.wsgi_request._messages]


def assignee_ids(chat):
    return set(
        ConversationAssignee.objects.filter(conversation=chat).values_list("user_id", flat=True)
    )


@pytest.fixture
def own(team):
    return team["chats"]["a_own"]


@pytest.fixture
def anita(client, team):
    client.force_login(team["a"])
    return client


def test_a_reply_goes_out_through_the_sandbox_once_however_often_it_is_sent(
    anita, project, team, own, eager_celery, django_capture_on_commit_callbacks
):
    form = {"nonce": uuid.uuid4().hex, "body": "Hello <b>Lead</b>, your order ships today"}
    with django_capture_on_commit_callbacks(execute=True):
        response = anita.post(url("reply", project, own), form)
        again = anita.post(url("reply", project, own), form)
    assert response.status_code == again.status_code == 302
    message = Message.objects.get()
    assert (message.channel, message.contact, message.body) == (
        own.channel,
        own.contact,
        form["body"],
    )
    assert message.status == Message.Status.DELIVERED
    assert TimelineEntry.objects.get(kind=Kind.MESSAGE_OUT).author == team["a"]
    html = page(anita, project, own)
    assert "Hello &lt;b&gt;Lead&lt;/b&gt;" in html
    assert "Hello <b>Lead" not in html
    # A new form, a new nonce: the next reply is another message.
    assert form["nonce"] not in html
    with django_capture_on_commit_callbacks(execute=True):
        anita.post(url("reply", project, own), {**form, "nonce": uuid.uuid4().hex})
    assert Message.objects.count() == 2


def test_a_reply_needs_content_and_a_web_address_for_media(anita, project, own):
    response = anita.post(
        url("reply", project, own), {"nonce": uuid.uuid4().hex, "media_url": "javascript:alert(1)"}
    )
    assert response.status_code == 302
    html = page(anita, project, own)
    assert "Give a web address (http or https)." in html
    assert 'value="javascript:alert(1)"' in html
    assert not Message.objects.exists()


def test_a_locked_chat_takes_replies_from_its_assignees_only(client, anita, project, team, own):
    response = anita.post(url("lock", project, own), {"locked": "on"})
    assert response.status_code == 302
    own.refresh_from_db()
    assert own.locked
    assert TimelineEntry.objects.filter(kind=Kind.STATUS, text__startswith="Locked").exists()

    client.force_login(team["boss"])
    html = page(client, project, own)
    assert "This chat is locked to its assignees: only they can reply." in html
    assert 'name="body"' not in html.split('id="reply"')[1].split("note-box")[0]
    response = client.post(url("reply", project, own), {"nonce": uuid.uuid4().hex, "body": "Hi"})
    assert "This chat is locked to its assignees: only they can reply." in " ".join(flash(response))
    assert not Message.objects.exists()
    # The admin may still hand the chat on, then reply as its assignee.
    client.post(url("assign", project, own), {"user": team["boss"].pk, "mode": "add"})
    client.post(url("reply", project, own), {"nonce": uuid.uuid4().hex, "body": "Hi"})
    assert Message.objects.get().body == "Hi"


def test_only_an_assignee_or_an_admin_locks_a_chat(client, project, team):
    sales = team["chats"]["sales"]
    client.force_login(team["a"])
    response = client.post(url("lock", project, sales), {"locked": "on"})
    assert "Only an assignee of the chat or an admin can lock it." in flash(response)
    sales.refresh_from_db()
    assert not sales.locked


def test_an_internal_note_goes_on_the_timeline(anita, project, team, own):
    anita.post(url("note", project, own), {"body": "VIP, call before noon"})
    entry = TimelineEntry.objects.get(kind=Kind.NOTE)
    assert (entry.text, entry.author, entry.data["conversation"]) == (
        "VIP, call before noon",
        team["a"],
        own.pk,
    )
    anita.post(url("note", project, own), {"body": "   "})
    assert TimelineEntry.objects.filter(kind=Kind.NOTE).count() == 1


def test_assign_adds_an_agent_and_transfer_hands_the_chat_over(anita, project, team, own):
    anita.post(url("assign", project, own), {"user": team["b"].pk, "mode": "add"})
    assert assignee_ids(own) == {team["a"].pk, team["b"].pk}
    support = team["chats"]["support"].department
    response = anita.post(
        url("assign", project, own),
        {"department": support.pk, "mode": "transfer", "note": "Refund question"},
    )
    assert assignee_ids(own) == {team["b"].pk}
    # Anita no longer sees the chat: back to her inbox.
    assert response["Location"] == reverse("teambox_pages:inbox", args=[project.slug])
    assert TimelineEntry.objects.filter(kind=Kind.KICK, text__contains="Anita").exists()


def test_assign_names_an_agent_or_a_department(anita, project, own):
    anita.post(url("assign", project, own), {"mode": "add"})
    assert "Choose an agent or a department." in page(anita, project, own)


def test_resolve_snooze_and_reopen(anita, project, own):
    anita.post(url("status", project, own), {"status": "resolved"})
    own.refresh_from_db()
    assert own.status == Conversation.Status.RESOLVED
    anita.post(url("status", project, own), {"status": "snoozed", "until": "2001-01-01T09:00"})
    assert "Choose a time in the future." in page(anita, project, own)
    own.refresh_from_db()
    assert own.status == Conversation.Status.RESOLVED
    tomorrow = timezone.localtime(timezone.now() + timedelta(days=1), project.tzinfo)
    anita.post(
        url("status", project, own),
        {"status": "snoozed", "until": tomorrow.strftime("%Y-%m-%dT%H:%M")},
    )
    own.refresh_from_db()
    assert own.status == Conversation.Status.SNOOZED
    assert abs(own.snoozed_until - tomorrow) < timedelta(minutes=1)
    anita.post(url("status", project, own), {"status": "open"})
    own.refresh_from_db()
    assert (own.status, own.snoozed_until) == (Conversation.Status.OPEN, None)


def test_kick_removes_an_assignee(client, project, team, own):
    assign_users(own, [team["b"]])
    client.force_login(team["boss"])
    response = client.post(url("kick", project, own), {"user": team["b"].pk})
    assert "Bala left the chat." in flash(response)
    assert assignee_ids(own) == {team["a"].pk}


@pytest.mark.parametrize(
    "name,data",
    [
        ("reply", {"body": "Hi", "nonce": "0" * 32}),
        ("note", {"body": "Hi"}),
        ("assign", {"mode": "add"}),
        ("status", {"status": "resolved"}),
        ("kick", {"user": 1}),
        ("lock", {"locked": "on"}),
        ("add_tags", {"names": "vip"}),
        ("remove_tag", {"names": "vip"}),
        ("contact_note", {"text": "Hi"}),
        ("reminder", {"text": "Call", "due_at": "2030-01-01T09:00"}),
    ],
)
def test_an_agent_without_access_gets_404_and_changes_nothing(client, project, team, name, data):
    own = team["chats"]["a_own"]
    client.force_login(team["b"])
    assert client.post(url(name, project, own), data).status_code == 404
    own.refresh_from_db()
    assert (own.status, own.locked) == (Conversation.Status.OPEN, False)
    assert not Message.objects.exists()
    assert not own.contact.tags.exists()
    assert not TimelineEntry.objects.filter(kind=Kind.NOTE).exists()


def test_actions_need_a_post_with_csrf(project, team, own):
    client = Client(enforce_csrf_checks=True)
    client.force_login(team["a"])
    assert client.post(url("status", project, own), {"status": "resolved"}).status_code == 403
    assert client.get(url("status", project, own)).status_code == 405
    html = page(client, project, own)
    assert html.count('name="csrfmiddlewaretoken"') >= html.count('method="post"') > 5


@pytest.fixture
def cloud_chat(project, cloud, asha, team):
    chat, _ = open_conversation(cloud, asha)
    assign_users(chat, [team["a"]])
    return chat


def test_whatsapp_outside_the_session_takes_a_template_only(anita, project, cloud_chat):
    Message.objects.create(
        project=project,
        channel=cloud_chat.channel,
        contact=cloud_chat.contact,
        direction=Message.Direction.OUT,
        address="919847012345",
        template="order_update",
        template_language="en_US",
        status=Message.Status.DELIVERED,
    )
    html = page(anita, project, cloud_chat)
    assert "Only an approved template can be sent." in html
    assert "has not written on WhatsApp in the last 24 hours" in html
    assert "This channel keeps no list of approved templates" in html
    assert '<option value="order_update">en_US</option>' in html

    anita.post(url("reply", project, cloud_chat), {"nonce": uuid.uuid4().hex, "body": "Hi"})
    assert (
        "Asha has not written in the last 24 hours, so WhatsApp accepts only an approved "
        "template" in page(anita, project, cloud_chat)
    )
    assert Message.objects.count() == 1

    anita.post(
        url("reply", project, cloud_chat),
        {
            "nonce": uuid.uuid4().hex,
            "template": "order_update",
            "template_language": "en_US",
            "template_values": "Asha\n#1042\n",
        },
    )
    sent = Message.objects.exclude(pk=Message.objects.order_by("pk").first().pk).get()
    assert (sent.template, sent.template_language, sent.template_params) == (
        "order_update",
        "en_US",
        ["Asha", "#1042"],
    )


def test_whatsapp_inside_the_session_takes_free_text(anita, project, cloud_chat):
    Message.objects.create(
        project=project,
        channel=cloud_chat.channel,
        contact=cloud_chat.contact,
        direction=Message.Direction.IN,
        address="919847012345",
        body="Where is my order?",
        status=Message.Status.RECEIVED,
    )
    assert "Only an approved template can be sent." not in page(anita, project, cloud_chat)
    anita.post(url("reply", project, cloud_chat), {"nonce": uuid.uuid4().hex, "body": "Today"})
    assert Message.objects.filter(direction="out", body="Today").exists()


def test_tags_are_added_and_removed_in_the_contact_panel(anita, project, own):
    anita.post(url("add_tags", project, own), {"names": "vip, <script>x</script>"})
    assert sorted(own.contact.tags.values_list("name", flat=True)) == ["<script>x</script>", "vip"]
    html = page(anita, project, own)
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<script>x</script>" not in html
    anita.post(url("remove_tag", project, own), {"names": "vip"})
    assert list(own.contact.tags.values_list("name", flat=True)) == ["<script>x</script>"]


def test_notes_and_reminders_in_the_contact_panel(anita, project, team, own):
    anita.post(url("contact_note", project, own), {"text": "Prefers e-mail"})
    anita.post(url("reminder", project, own), {"text": "Call back", "due_at": "2030-01-02T10:30"})
    reminder = Reminder.objects.get()
    assert (reminder.text, reminder.assignee) == ("Call back", team["a"])
    assert timezone.localtime(reminder.due_at, project.tzinfo).strftime("%H:%M") == "10:30"
    anita.post(url("reminder", project, own), {"text": "Call back", "due_at": "soon"})
    html = page(anita, project, own)
    assert "Prefers e-mail" in html
    assert "Call back" in html
    assert "Enter a valid date/time." in html
    assert Reminder.objects.count() == 1


def test_the_contact_panel_lists_the_contact_s_connector_runs(client, project, member, own):
    connector = build_connector(project, name="Website leads")
    event = Event.objects.create(
        project=project, connector=connector, payload={}, method="POST", received_at=timezone.now()
    )
    run = Run.objects.create(
        project=project,
        connector=connector,
        event=event,
        contact=own.contact,
        status=Run.Status.FAILED,
        error="The CRM answered 500",
    )
    client.force_login(member)
    html = page(client, project, own)
    assert "Recent connector runs" in html
    assert "Website leads" in html
    assert "The CRM answered 500" in html
    assert reverse("admin:connectors_run_change", args=[run.pk]) in html


def test_a_tag_too_long_is_a_field_error(anita, project, own):
    response = anita.post(url("add_tags", project, own), {"names": "vip, " + "x" * 101})
    assert response.status_code == 302
    assert "A tag has at most 100 characters" in page(anita, project, own)
    assert not own.contact.tags.exists()


def test_the_panel_shows_the_contact_s_details(anita, project, own):
    own.contact.email = "lead@example.com"
    own.contact.attributes = {"city": "Kochi", "orders": ["A-17", "A-18"]}
    own.contact.save()
    html = page(anita, project, own).split('id="contact-panel"')[1]
    assert "+919800000001" in html
    assert "lead@example.com" in html
    assert "Kochi" in html
    assert "[&quot;A-17&quot;, &quot;A-18&quot;]" in html


def test_opening_the_chat_reads_it_and_an_admin_unlocks_it(client, anita, project, team, own):
    ConversationAssignee.objects.filter(conversation=own).update(unread_count=3)
    own.locked = True
    own.save(update_fields=["locked"])
    page(anita, project, own)
    assert ConversationAssignee.objects.get(conversation=own).unread_count == 0
    client.force_login(team["boss"])
    client.post(url("lock", project, own), {"locked": ""})
    own.refresh_from_db()
    assert not own.locked
    assert "This chat is locked" not in page(client, project, own)


def test_a_transfer_to_a_department_without_agents_is_refused(anita, project, team, own):
    empty = Department.objects.create(project=project, name="Billing")
    response = anita.post(url("assign", project, own), {"department": empty.pk, "mode": "transfer"})
    assert "Nobody would take the chat: that department has no agents." in flash(response)
    assert assignee_ids(own) == {team["a"].pk}
