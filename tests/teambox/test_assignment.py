"""Assignment: eligible agents, each strategy, routing rules, assigning and removing by
hand, the offline message and the sweep over chats nobody replied to."""

import random
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from teambox import assignment
from teambox.conversations import open_conversation
from teambox.models import Agent, Conversation, Department, RoutingRule
from tests.builders import build_agent


@pytest.fixture
def sales(project):
    return Department.objects.create(project=project, name="Sales")


@pytest.fixture
def support(project):
    return Department.objects.create(project=project, name="Support")


@pytest.fixture
def team(project):
    """Three online agents, in the order of their ids."""
    return [build_agent(project, name) for name in ("anu", "bala", "chitra")]


@pytest.fixture
def chat(sandbox, asha):
    conversation, _ = open_conversation(sandbox, asha)
    return conversation


def usernames(agents):
    return [agent.user.username for agent in agents]


def assignee_names(conversation):
    return sorted(conversation.assignees.values_list("username", flat=True))


def picks(project, count, **options):
    return [
        agent.user.username
        for _ in range(count)
        for agent in assignment.pick_agents(project, limit=1, **options)
    ]


# Eligible agents -----------------------------------------------------------------------


def test_only_enabled_agents_with_a_fresh_online_heartbeat_are_online(project, team, settings):
    settings.PICKY_AGENT_PRESENCE_SECONDS = 120
    build_agent(project, "away", presence=Agent.Presence.AWAY)
    build_agent(project, "off", online=False)
    build_agent(project, "disabled", enabled=False)
    build_agent(project, "stale", last_seen_at=timezone.now() - timedelta(seconds=121))
    pick = dict(strategy="least_recently_assigned")
    assert usernames(assignment.pick_agents(project, **pick)) == ["anu", "bala", "chitra"]
    offline = assignment.pick_agents(project, presence="offline", **pick)
    assert sorted(usernames(offline)) == ["away", "off", "stale"]
    assert len(assignment.pick_agents(project, presence="any", **pick)) == 6


def test_agents_are_narrowed_by_department_role_user_and_level(project, sales, support):
    anu = build_agent(project, "anu", departments=[sales, support], hierarchy_level=1)
    build_agent(project, "bala", departments=[support], hierarchy_level=2, role="admin")
    build_agent(project, "chitra", hierarchy_level=2)
    pick = dict(strategy="least_recently_assigned")
    assert usernames(assignment.pick_agents(project, departments=[sales], **pick)) == ["anu"]
    in_either = assignment.pick_agents(project, departments=[sales, support.pk], **pick)
    assert usernames(in_either) == ["anu", "bala"]
    assert usernames(assignment.pick_agents(project, roles=["admin"], **pick)) == ["bala"]
    assert usernames(assignment.pick_agents(project, levels=[2], **pick)) == ["bala", "chitra"]
    assert usernames(assignment.pick_agents(project, users=[anu.user], **pick)) == ["anu"]


def test_an_agent_at_capacity_is_skipped_only_while_their_chats_are_open(
    project, sandbox, asha, team
):
    anu = team[0]
    Agent.objects.filter(pk=anu.pk).update(max_open_chats=1)
    assignment.assign_users(open_conversation(sandbox, asha)[0], [anu.user])
    pick = dict(strategy="least_recently_assigned", respect_capacity=True)
    assert usernames(assignment.pick_agents(project, **pick)) == ["bala", "chitra"]
    assert len(assignment.pick_agents(project, strategy="least_busy")) == 3
    Conversation.objects.update(status=Conversation.Status.RESOLVED)
    assert "anu" in usernames(assignment.pick_agents(project, **pick))


def test_unknown_strategies_and_presences_are_refused_with_the_choices(project):
    with pytest.raises(assignment.UnknownStrategy, match="choose one of .*round_robin"):
        assignment.pick_agents(project, strategy="alphabetical")
    with pytest.raises(ValueError, match="'busy' is not a presence"):
        assignment.pick_agents(project, strategy="random", presence="busy")


# Strategies ----------------------------------------------------------------------------


def test_round_robin_goes_on_after_the_last_pick_by_agent_id(project, team, sales):
    assert picks(project, 7, strategy="round_robin") == [
        "anu", "bala", "chitra", "anu", "bala", "chitra", "anu"
    ]  # fmt: skip
    # A new agent joins the rotation at their place; one who leaves is skipped.
    build_agent(project, "dev")
    Agent.objects.filter(pk=team[2].pk).update(enabled=False)
    assert picks(project, 4, strategy="round_robin") == ["bala", "dev", "anu", "bala"]
    # Each department is a pool of its own, with its own place.
    team[1].departments.add(sales)
    team[0].departments.add(sales)
    assert picks(project, 3, strategy="round_robin", departments=[sales]) == [
        "anu", "bala", "anu"
    ]  # fmt: skip
    assert picks(project, 1, strategy="round_robin") == ["dev"]


def test_round_robin_descending_and_limits_move_the_place_past_every_agent_returned(project, team):
    assert usernames(assignment.pick_agents(project, strategy="round_robin", limit=2)) == [
        "anu", "bala"
    ]  # fmt: skip
    assert picks(project, 2, strategy="round_robin") == ["chitra", "anu"]
    assert picks(project, 2, strategy="round_robin", descending=True) == ["chitra", "bala"]


def test_least_recently_assigned_takes_who_waited_longest_and_can_update_the_time(project, team):
    now = timezone.now()
    Agent.objects.filter(pk=team[0].pk).update(last_assigned_at=now - timedelta(minutes=1))
    Agent.objects.filter(pk=team[1].pk).update(last_assigned_at=now - timedelta(minutes=5))
    pick = dict(strategy="last_assigned")
    # chitra was never assigned; without the update the order stays.
    assert picks(project, 2, **pick) == ["chitra", "chitra"]
    assert picks(project, 3, update_last_assigned=True, **pick) == ["chitra", "bala", "anu"]
    descending = assignment.pick_agents(
        project, strategy="least_recently_assigned", descending=True
    )
    assert usernames(descending) == ["anu", "bala", "chitra"]


def test_last_seen_orders_by_heartbeat_and_routing_takes_the_most_recently_seen(
    project, team, chat
):
    now = timezone.now()
    for agent, seconds in zip(team, (30, 5, 60), strict=True):
        Agent.objects.filter(pk=agent.pk).update(last_seen_at=now - timedelta(seconds=seconds))
    ordered = usernames(assignment.pick_agents(project, strategy="last_seen"))
    assert ordered == ["chitra", "anu", "bala"]
    latest = assignment.pick_agents(project, strategy="last_seen", descending=True, limit=1)
    assert usernames(latest) == ["bala"]
    RoutingRule.objects.create(project=project, strategy="last_seen")
    assert [user.username for user in assignment.route_conversation(chat)] == ["bala"]


def test_random_picks_among_the_eligible_agents_only(project, team):
    build_agent(project, "off", online=False)
    random.seed(18)
    counts = Counter(picks(project, 60, strategy="random"))
    assert set(counts) == {"anu", "bala", "chitra"}
    assert len(assignment.pick_agents(project, strategy="random", limit=2)) == 2


def test_least_busy_takes_the_agent_with_fewest_open_chats(project, sandbox, team):
    anu, bala, _ = team
    for number, user in [("1", anu.user), ("2", anu.user), ("3", bala.user)]:
        contact = project.contacts.create(number=f"91980000000{number}")
        assignment.assign_users(open_conversation(sandbox, contact)[0], [user])
    assert usernames(assignment.pick_agents(project, strategy="least_busy")) == [
        "chitra", "bala", "anu"
    ]  # fmt: skip
    Conversation.objects.filter(assignees=anu.user).update(status=Conversation.Status.RESOLVED)
    # Among equals, who waited longest since their last chat (chitra never had one).
    assert usernames(assignment.pick_agents(project, strategy="least_busy")) == [
        "chitra", "anu", "bala"
    ]  # fmt: skip
