"""Who sees which conversation in the teambox pages (teambox/pages/access.py), and the
frame every page shares: login, 404 for other people's chats and projects, the CSP."""

from django.contrib.auth import get_user_model
from django.urls import reverse

from teambox.pages.access import visible_conversations
from tests.builders import build_agent


def visible(user, project):
    return set(visible_conversations(user, project).values_list("pk", flat=True))


def ids(team, *names):
    return {team["chats"][name].pk for name in names}


def test_agents_see_their_chats_and_the_unassigned_ones_of_their_departments(project, team):
    assert visible(team["a"], project) == ids(team, "a_own", "sales", "nobody")
    assert visible(team["b"], project) == ids(team, "support", "nobody")
    assert visible(team["boss"], project) == ids(team, "a_own", "sales", "support", "nobody")


def test_strangers_see_nothing(project, other_project, team):
    stranger = build_agent(other_project, "sam").user
    assert visible(stranger, project) == set()


def test_an_agent_gets_404_for_another_agent_s_chat(client, project, team):
    client.force_login(team["b"])
    url = reverse("teambox_pages:conversation", args=[project.slug, team["chats"]["a_own"].pk])
    assert client.get(url).status_code == 404
    client.force_login(team["a"])
    response = client.get(url)
    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert (
        "unsafe-inline"
        not in response["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    )


def test_pages_are_for_logged_in_members(client, project, other_project, team):
    inbox = reverse("teambox_pages:inbox", args=[project.slug])
    response = client.get(inbox)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("teambox_pages:login") + "?next=")
    client.force_login(team["a"])
    assert client.get(inbox).status_code == 200
    other = client.get(reverse("teambox_pages:inbox", args=[other_project.slug]))
    assert other.status_code == 404
    assert "Content-Security-Policy" in other
    assert client.get(reverse("teambox_pages:home"))["Location"] == inbox


def test_a_user_without_a_project_gets_404_at_home(client, db):
    client.force_login(get_user_model().objects.create_user("loner"))
    assert client.get(reverse("teambox_pages:home")).status_code == 404


def test_an_agent_who_is_not_staff_logs_in_to_the_teambox_and_out(client, project, team):
    agent = team["a"]
    agent.is_staff = False
    agent.set_password("chats-all-day")
    agent.save()
    inbox = reverse("teambox_pages:inbox", args=[project.slug])
    login = reverse("teambox_pages:login")
    refused = client.post(login, {"username": agent.username, "password": "wrong", "next": inbox})
    assert refused.status_code == 200
    assert "Please enter a correct username and password" in refused.content.decode()
    answer = client.post(
        login, {"username": agent.username, "password": "chats-all-day", "next": inbox}
    )
    assert answer["Location"] == inbox
    page = client.get(inbox)
    assert page.status_code == 200
    assert reverse("teambox_pages:logout") in page.content.decode()
    assert client.post(reverse("teambox_pages:logout"))["Location"] == login
    assert client.get(inbox).status_code == 302
