"""Who sees which conversation in the teambox pages (teambox/pages/access.py), and the
frame every page shares: login, 404 for other people's chats and projects, the CSP."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from crm import services as crm
from picky.models import Membership
from teambox.assignment import assign_users
from teambox.conversations import open_conversation
from teambox.models import Department
from teambox.pages.access import visible_conversations
from tests.builders import build_agent


@pytest.fixture
def team(project, sandbox):
    """Agents A (Sales) and B (Support), an admin, and chats: one assigned to A, one
    unassigned in Sales, one unassigned in Support, one unassigned without department."""
    sales = Department.objects.create(project=project, name="Sales")
    support = Department.objects.create(project=project, name="Support")
    a = build_agent(project, "anita", departments=[sales]).user
    b = build_agent(project, "bala", departments=[support]).user
    boss = build_agent(project, "meera", role=Membership.Role.ADMIN).user

    def chat(number, department=None):
        contact = crm.upsert_contact(project, number, name=f"Lead {number[-2:]}")
        conversation, _ = open_conversation(sandbox, contact)
        conversation.department = department
        conversation.save(update_fields=["department"])
        return conversation

    chats = {
        "a_own": chat("919800000001", sales),
        "sales": chat("919800000002", sales),
        "support": chat("919800000003", support),
        "nobody": chat("919800000004"),
    }
    assign_users(chats["a_own"], [a])
    return {"a": a, "b": b, "boss": boss, "chats": chats}


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
    assert response["Location"].startswith(reverse("admin:login") + "?next=")
    client.force_login(team["a"])
    assert client.get(inbox).status_code == 200
    other = client.get(reverse("teambox_pages:inbox", args=[other_project.slug]))
    assert other.status_code == 404
    assert "Content-Security-Policy" in other
    assert client.get(reverse("teambox_pages:home"))["Location"] == inbox


def test_a_user_without_a_project_gets_404_at_home(client, db):
    client.force_login(get_user_model().objects.create_user("loner"))
    assert client.get(reverse("teambox_pages:home")).status_code == 404
