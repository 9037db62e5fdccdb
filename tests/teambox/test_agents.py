"""Agents: presence that expires with the heartbeat, and finding agents and departments
by what a user types."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model

from picky.models import Membership
from teambox import agents
from teambox.models import Agent, Department

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def make_agent(project, username, email="", **fields):
    user = get_user_model().objects.create_user(username, email=email)
    Membership.objects.create(project=project, user=user, role=Membership.Role.AGENT)
    return Agent.objects.create(project=project, user=user, **fields)


@pytest.fixture
def meera(project):
    return make_agent(project, "meera", "Meera@Shop.example")


def test_an_agent_is_online_only_while_their_heartbeat_is_fresh(meera, settings):
    settings.PICKY_AGENT_PRESENCE_SECONDS = 120
    assert agents.effective_presence(meera, NOW) == Agent.Presence.OFFLINE
    agents.heartbeat(meera, presence="online", at=NOW)
    meera.refresh_from_db()
    assert (meera.presence, meera.last_seen_at) == ("online", NOW)
    assert agents.effective_presence(meera, NOW + timedelta(seconds=120)) == "online"
    assert agents.effective_presence(meera, NOW + timedelta(seconds=121)) == "offline"
    assert agents.online_cutoff(NOW) == NOW - timedelta(seconds=120)

    agents.heartbeat(meera, presence=Agent.Presence.AWAY, at=NOW + timedelta(minutes=5))
    assert agents.effective_presence(meera, NOW + timedelta(minutes=6)) == "away"
    # A heartbeat alone keeps what the agent chose.
    agents.heartbeat(meera, at=NOW + timedelta(minutes=7))
    meera.refresh_from_db()
    assert (meera.presence, meera.last_seen_at) == ("away", NOW + timedelta(minutes=7))


def test_a_presence_that_does_not_exist_is_refused(meera):
    with pytest.raises(ValueError):
        agents.heartbeat(meera, presence="busy")
    meera.refresh_from_db()
    assert meera.last_seen_at is None


def test_agents_are_found_by_id_email_or_username_whatever_the_case(
    project, other_project, meera, django_assert_num_queries
):
    ravi = make_agent(project, "Ravi", "ravi@shop.example")
    member_only = get_user_model().objects.create_user("nisha", email="nisha@shop.example")
    Membership.objects.create(project=project, user=member_only, role=Membership.Role.AGENT)
    make_agent(other_project, "globex-agent", "g@globex.example")
    with django_assert_num_queries(1):
        found, unknown = agents.agents_named(
            project,
            [
                "meera@shop.example",
                "RAVI",
                str(meera.user.pk),
                meera.user.pk,
                "nisha",
                "globex-agent",
                " ",
                "nobody@shop.example",
            ],
        )
    assert found == [meera, ravi]
    assert unknown == ["nisha", "globex-agent", "nobody@shop.example"]
    assert agents.agents_named(project, []) == ([], [])


def test_departments_are_found_by_name_whatever_the_case(project, other_project):
    sales = Department.objects.create(project=project, name="Sales")
    support = Department.objects.create(project=project, name="Support")
    Department.objects.create(project=other_project, name="Billing")
    found, unknown = agents.departments_named(project, ["support", "SALES", "Sales", "Billing"])
    assert found == [support, sales]
    assert unknown == ["Billing"]
