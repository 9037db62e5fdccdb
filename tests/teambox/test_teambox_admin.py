"""The teambox in the admin: owners and admins set up departments, agents and routing
rules; conversations are read with the contact's timeline; each user reads their own
notifications. (Which role opens which section: tests/picky/test_admin_roles.py.)"""

import pytest
from django.contrib.auth import get_user_model

from crm import services as crm
from picky.models import Membership
from teambox import conversations, notifications
from teambox.admin import AgentForm
from teambox.assignment import assign_users
from teambox.models import Agent, Conversation, Department, Notification, RoutingRule
from tests.builders import build_agent

AGENT = Membership.Role.AGENT


@pytest.fixture
def logged_in(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def sales(project):
    return Department.objects.create(project=project, name="Sales")


def test_an_agent_is_a_member_of_the_project_with_its_departments(
    logged_in, project, other_project, sales
):
    make = get_user_model().objects.create_user
    meera, outsider = make("meera"), make("outsider")
    Membership.objects.create(project=project, user=meera, role=AGENT)
    Membership.objects.create(project=other_project, user=outsider, role=AGENT)
    globex = Department.objects.create(project=other_project, name="Globex team")

    page = logged_in.get("/admin/teambox/agent/add/").content.decode()
    assert ">meera<" in page and "outsider" not in page
    assert "Sales" in page and "Globex team" not in page

    form = {
        "project": project.pk,
        "user": outsider.pk,
        "departments": [globex.pk],
        "hierarchy_level": 1,
        "presence": "offline",
    }
    refused = logged_in.post("/admin/teambox/agent/add/", form).content.decode()
    assert "Select a valid choice" in refused
    assert not Agent.objects.exists()

    form.update(user=meera.pk, departments=[sales.pk], max_open_chats=5, enabled="on")
    assert logged_in.post("/admin/teambox/agent/add/", form).status_code == 302
    agent = Agent.objects.get()
    assert (agent.user, list(agent.departments.all()), agent.max_open_chats) == (
        meera, [sales], 5,
    )  # fmt: skip
    listing = logged_in.get("/admin/teambox/agent/").content.decode()
    assert "Sales" in listing and "Offline" in listing and ">agent<" in listing


def test_a_member_removed_from_the_project_cannot_be_saved_as_its_agent(project, other_project):
    """The form's own rule, whatever user choices the page offered."""
    user = get_user_model().objects.create_user("meera")
    Membership.objects.create(project=other_project, user=user, role=AGENT)
    form = AgentForm(
        {"project": project.pk, "user": user.pk, "hierarchy_level": 1, "presence": "offline"}
    )
    assert not form.is_valid()
    assert "is not a member of Acme" in form.errors["user"][0]


def test_a_routing_rule_takes_the_projects_channel_and_departments(
    logged_in, project, sandbox, sales
):
    form = {
        "project": project.pk,
        "channel": sandbox.pk,
        "strategy": "least_busy",
        "department": sales.pk,
        "only_online": "on",
        "respect_capacity": "on",
        "offline_message": "We are away; we answer at 9.",
        "no_response_minutes": 10,
    }
    assert logged_in.post("/admin/teambox/routingrule/add/", form).status_code == 302
    rule = RoutingRule.objects.get()
    assert (rule.channel, rule.strategy, rule.department) == (sandbox, "least_busy", sales)
    again = logged_in.post("/admin/teambox/routingrule/add/", form).content.decode()
    assert "already exists" in again
    assert RoutingRule.objects.count() == 1


def test_conversations_list_their_assignees_and_show_the_timeline(client, project, sandbox, asha):
    anu = build_agent(project, "anu", role=AGENT)
    anu.user.is_staff = True
    anu.user.save()
    conversation, _ = conversations.open_conversation(sandbox, asha)
    Conversation.objects.create(
        project=project,
        channel=sandbox,
        contact=crm.upsert_contact(project, "919847000001", name="Ravi"),
    )
    assign_users(conversation, [anu.user])
    conversations.add_internal_note(conversation, "<b>VIP</b> customer", anu.user)
    client.force_login(anu.user)
    listing = client.get("/admin/teambox/conversation/?assigned=me").content.decode()
    assert "Asha" in listing and "Ravi" not in listing and "Anu" in listing
    unassigned = client.get("/admin/teambox/conversation/?assigned=nobody").content.decode()
    assert "Ravi" in unassigned and "Asha" not in unassigned

    page = client.get(f"/admin/teambox/conversation/{conversation.pk}/change/").content.decode()
    assert "&lt;b&gt;VIP&lt;/b&gt; customer" in page and "Internal note" in page
    assert 'name="_save"' not in page


def test_each_user_reads_and_clears_their_own_notifications(client, project, member):
    anu = build_agent(project, "anu").user
    anu.is_staff = True
    anu.save()
    notifications.notify_agents(project, [anu], "Refund asked by Asha")
    notifications.notify_agents(project, [anu], "Order 1042 is late")
    notifications.notify_agents(project, [member], "For the admin only")
    client.force_login(anu)
    listing = client.get("/admin/teambox/notification/").content.decode()
    assert "Refund asked by Asha" in listing and "For the admin only" not in listing
    assert "Mark all read" in listing

    mine = Notification.objects.filter(user=anu).order_by("pk")
    theirs = Notification.objects.get(user=member)
    client.post(
        "/admin/teambox/notification/",
        {"action": "mark_read", "_selected_action": [mine[0].pk, theirs.pk]},
    )
    assert [n.read_at is not None for n in mine.order_by("pk")] == [True, False]
    theirs.refresh_from_db()
    assert theirs.read_at is None

    response = client.post("/admin/teambox/notification/mark-all-read/", follow=True)
    assert "1 notification marked read." in response.content.decode()
    assert not notifications.unread_notifications(anu, project).exists()
    assert notifications.unread_notifications(member, project).exists()
    assert client.get("/admin/teambox/notification/mark-all-read/").status_code == 405
