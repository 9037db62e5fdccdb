"""The live refresh (teambox/pages/live.py), the notifications drawer and the presence
switch: what a poll answers, that it goes through the access rule every time, what it
costs, and the drawer's and switch's forms with JavaScript off."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm import services as crm
from picky.models import Membership
from teambox.assignment import assign_users, remove_assignees
from teambox.conversations import mark_read, open_conversation
from teambox.models import Agent, Message, Notification
from teambox.notifications import notify_agents
from tests.builders import build_agent

START = timezone.now().replace(microsecond=0) + timedelta(days=1)  # after the fixtures


@pytest.fixture
def anita(client, team):
    client.force_login(team["a"])
    return client


def poll(client, project, headers=None, **params):
    url = reverse("teambox_pages:live", args=[project.slug])
    response = client.get(url, params, headers=headers)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    return response.json()


def inbox(client, project):
    return client.get(reverse("teambox_pages:inbox", args=[project.slug]))


def write_in(client, sandbox, number, text):
    response = client.post(
        sandbox.webhook_path, {"number": number, "message": text}, content_type="application/json"
    )
    assert response.status_code == 200, response.content


def test_a_message_moves_the_stamps_of_the_inbox_and_of_the_open_chat(
    anita, project, team, sandbox
):
    chat = team["chats"]["a_own"]
    page = inbox(anita, project).content.decode()
    before = poll(anita, project, conversation=chat.pk)
    # Nothing changed since the page was rendered: the page refreshes nothing.
    assert f'data-live-inbox="{before["inbox"]}"' in page
    assert before["conversation"] == {
        "id": chat.pk,
        "access": True,
        "stamp": before["conversation"]["stamp"],
    }
    assert poll(anita, project, conversation=chat.pk) == before

    write_in(Client(), sandbox, chat.contact.number, "Is the lamp in stock?")
    after = poll(anita, project, conversation=chat.pk)
    assert after["inbox"] != before["inbox"]
    assert after["conversation"]["stamp"] != before["conversation"]["stamp"]
    # The page the refresh fetches shows it.
    chat_page = anita.get(reverse("teambox_pages:conversation", args=[project.slug, chat.pk]))
    assert "Is the lamp in stock?" in chat_page.content.decode()
    assert f'data-live-chat="{after["conversation"]["stamp"]}"' in chat_page.content.decode()


def test_a_new_chat_in_my_departments_moves_the_inbox_stamp(anita, project, team, sandbox):
    before = poll(anita, project)["inbox"]
    lead = crm.upsert_contact(project, "919800000099", name="New lead")
    open_conversation(sandbox, lead)
    assert poll(anita, project)["inbox"] != before


def test_a_kicked_agent_loses_the_chat_on_the_next_poll(anita, project, team):
    chat = team["chats"]["support"]  # Support's: anita sees it only while assigned
    assign_users(chat, [team["a"]])
    assert poll(anita, project, conversation=chat.pk)["conversation"]["access"] is True

    remove_assignees(chat, [team["a"]])
    answer = poll(anita, project, conversation=chat.pk)
    assert answer["conversation"] == {
        "id": chat.pk,
        "access": False,
        "message": "You no longer have access to this chat.",
    }
    url = reverse("teambox_pages:conversation", args=[project.slug, chat.pk])
    assert anita.get(url).status_code == 404

    # Removed from the project: every poll answers 404, which the page reads the same way.
    Membership.objects.filter(project=project, user=team["a"]).delete()
    live = reverse("teambox_pages:live", args=[project.slug])
    assert anita.get(live, {"conversation": team["chats"]["a_own"].pk}).status_code == 404


def test_an_agent_cannot_poll_another_agent_s_chat(anita, project, team):
    answer = poll(anita, project, conversation=team["chats"]["support"].pk)
    assert answer["conversation"]["access"] is False
    assert "stamp" not in answer["conversation"]


def test_a_poll_costs_the_same_queries_whatever_the_chats_and_notifications(
    anita, project, team, sandbox
):
    chat = team["chats"]["a_own"]
    notify_agents(project, [team["a"]], "One", contact=chat.contact)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            poll(anita, project, conversation=chat.pk, notifications="stale", seen="0")
        return len(captured)

    with time_machine.travel(START, tick=False) as clock:
        few = queries()
        for n in range(15):
            lead = crm.upsert_contact(project, f"9198111111{n:02d}", name=f"Lead {n}")
            more, _ = open_conversation(sandbox, lead)
            assign_users(more, [team["a"]])
            notify_agents(project, [team["a"]], f"About lead {n}", contact=lead, browser=True)
        clock.shift(timedelta(hours=1))  # the heartbeat is written again, as the first time
        many = queries()
    assert few == many


def test_each_poll_is_a_heartbeat_written_a_few_times_a_presence_window(
    anita, project, team, settings
):
    settings.PICKY_AGENT_PRESENCE_SECONDS = 120
    agent = Agent.objects.get(project=project, user=team["a"])
    with time_machine.travel(START, tick=False) as clock:
        assert poll(anita, project)["presence"] == {
            "chosen": "online",
            "value": "online",
            "label": "Online",
        }
        agent.refresh_from_db()
        assert agent.last_seen_at == START
        clock.shift(timedelta(seconds=3))
        poll(anita, project)
        agent.refresh_from_db()
        assert agent.last_seen_at == START  # not written on every poll
        clock.shift(timedelta(seconds=30))
        poll(anita, project)
        agent.refresh_from_db()
        assert agent.last_seen_at == START + timedelta(seconds=33)

        # The tab is closed: no more polls, and presence expires.
        clock.shift(timedelta(seconds=121))
        page = inbox(anita, project).content.decode()
        assert 'data-presence="offline"' in page
        assert 'value="online" class="presence-online" aria-pressed="true"' in page


def test_the_presence_switch_sets_presence_and_a_heartbeat(anita, project, team):
    agent = Agent.objects.get(project=project, user=team["a"])
    url = reverse("teambox_pages:presence", args=[project.slug])
    inbox_url = reverse("teambox_pages:inbox", args=[project.slug])
    with time_machine.travel(START + timedelta(hours=2), tick=False):
        response = anita.post(url, {"presence": "away", "next": inbox_url + "?tab=unassigned"})
    assert response.status_code == 302
    assert response["Location"] == inbox_url + "?tab=unassigned"
    agent.refresh_from_db()
    assert (agent.presence, agent.last_seen_at) == ("away", START + timedelta(hours=2))

    response = anita.post(url, {"presence": "asleep", "next": "https://evil.example/"}, follow=True)
    assert response.redirect_chain[0][0] == inbox_url  # never to another site
    assert "Choose online, away or offline." in response.content.decode()
    agent.refresh_from_db()
    assert agent.presence == "away"


def test_a_member_who_is_not_an_agent_is_told_why_there_is_no_switch(client, project, team):
    owner = build_agent(project, "olga", role=Membership.Role.OWNER).user
    Agent.objects.filter(user=owner).delete()
    client.force_login(owner)
    page = inbox(client, project).content.decode()
    assert "Not an agent" in page
    assert "not one of its agents" in page
    assert 'name="presence"' not in page
    response = client.post(
        reverse("teambox_pages:presence", args=[project.slug]), {"presence": "online"}, follow=True
    )
    assert "not one of its agents" in response.content.decode()
    assert poll(client, project)["presence"] is None


def test_the_drawer_lists_notifications_newest_first_escaped_with_their_record(
    anita, project, team, asha
):
    chat = team["chats"]["a_own"]
    notify_agents(project, [team["a"]], "Older", record_id="ORD-7")
    notify_agents(
        project, [team["a"]], "<b>Call back</b>", "Wants <i>2</i> lamps", contact=chat.contact
    )
    notify_agents(project, [team["a"]], "About Asha", contact=asha)  # no chat anita may open
    notify_agents(project, [team["b"]], "Bala's own")
    page = inbox(anita, project).content.decode()
    assert (
        page.index("About Asha") < page.index("&lt;b&gt;Call back&lt;/b&gt;") < page.index("Older")
    )
    assert "<b>Call back" not in page and "Wants &lt;i&gt;2&lt;/i&gt; lamps" in page
    chat_url = reverse("teambox_pages:conversation", args=[project.slug, chat.pk])
    assert f'<a href="{chat_url}">{chat.contact.name}</a>' in page
    assert "<span>Asha</span>" in page
    assert "Record ORD-7" in page
    assert "Bala's own" not in page
    assert 'id="notification-count">3</span>' in page


def test_a_poll_brings_the_drawer_when_it_changed_and_browser_alerts_once(anita, project, team):
    chat = team["chats"]["a_own"]
    chat_url = reverse("teambox_pages:conversation", args=[project.slug, chat.pk])
    first = poll(anita, project, notifications="", seen="0")["notifications"]
    assert (first["count"], first["alerts"]) == (0, [])
    assert "No new notifications." in first["html"]
    assert poll(anita, project, notifications=first["stamp"], seen="0")["notifications"] == {
        "stamp": first["stamp"],
        "count": 0,
    }

    quiet, loud = (
        notify_agents(project, [team["a"]], "Quiet")[0],
        notify_agents(
            project, [team["a"]], "New <order>", "Two lamps", browser=True, contact=chat.contact
        )[0],
    )
    page = "http://testserver" + reverse("teambox_pages:inbox", args=[project.slug]) + "?tab=all"
    second = poll(
        anita, project, headers={"referer": page}, notifications=first["stamp"], seen="0"
    )["notifications"]
    assert f'name="next" value="{page}"' in second["html"]  # its forms return to the page
    assert second["count"] == 2
    assert "New &lt;order&gt;" in second["html"] and "Quiet" in second["html"]
    assert second["alerts"] == [
        {"id": loud.pk, "title": "New <order>", "body": "Two lamps", "url": chat_url}
    ]
    assert second["seen"] == max(quiet.pk, loud.pk)
    again = poll(anita, project, notifications="other", seen=str(second["seen"]))
    assert again["notifications"]["alerts"] == []


def test_mark_read_and_clear_all_with_javascript_off(anita, project, team):
    mine = notify_agents(project, [team["a"]], "First")[0]
    notify_agents(project, [team["a"]], "Second")
    theirs = notify_agents(project, [team["b"]], "Bala's")[0]
    inbox_url = reverse("teambox_pages:inbox", args=[project.slug])
    read = reverse("teambox_pages:notification_read", args=[project.slug, mine.pk])
    assert anita.post(read, {"next": inbox_url})["Location"] == inbox_url
    mine.refresh_from_db()
    assert mine.read_at is not None
    other = reverse("teambox_pages:notification_read", args=[project.slug, theirs.pk])
    assert anita.post(other).status_code == 404
    assert anita.get(read).status_code == 405

    clear = reverse("teambox_pages:notifications_clear", args=[project.slug])
    response = anita.post(clear, HTTP_ACCEPT="application/json")
    assert response.status_code == 204
    assert not Notification.objects.filter(user=team["a"], read_at__isnull=True).exists()
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    assert "No new notifications." in inbox(anita, project).content.decode()


def test_the_drawer_and_switch_forms_need_the_csrf_token(project, team):
    notify_agents(project, [team["a"]], "Keep me")
    client = Client(enforce_csrf_checks=True)
    client.force_login(team["a"])
    for name in ("notifications_clear", "presence"):
        url = reverse(f"teambox_pages:{name}", args=[project.slug])
        assert client.post(url, {"presence": "away"}).status_code == 403
    assert Notification.objects.filter(read_at__isnull=True).count() == 1
    page = inbox(client, project).content.decode()
    assert page.count('name="csrfmiddlewaretoken"') >= 3  # clear all, mark read, presence


def test_a_delivery_status_and_reading_the_chat_move_the_stamps(anita, project, team, sandbox):
    chat = team["chats"]["a_own"]
    with time_machine.travel(START, tick=False) as clock:
        write_in(Client(), sandbox, chat.contact.number, "Hello?")
        reply = Message.objects.create(
            project=project,
            channel=sandbox,
            contact=chat.contact,
            direction=Message.Direction.OUT,
            address=chat.contact.number,
            body="Hi!",
        )
        before = poll(anita, project, conversation=chat.pk)
        clock.shift(timedelta(seconds=2))
        reply.status = Message.Status.DELIVERED
        reply.save()
        after = poll(anita, project, conversation=chat.pk)
        assert after["conversation"]["stamp"] != before["conversation"]["stamp"]
        assert after["inbox"] == before["inbox"]
        mark_read(chat, team["a"])  # her unread count drops: the list's badge changes
        assert poll(anita, project)["inbox"] != after["inbox"]


def test_a_poll_ignores_what_is_not_a_chat_number(anita, project, team):
    answer = poll(anita, project, conversation="1 OR 1=1", seen="x", notifications="<b>")
    assert "conversation" not in answer
    assert answer["notifications"]["alerts"] == []
