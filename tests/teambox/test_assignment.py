"""Assignment: eligible agents, each strategy, routing rules, assigning and removing by
hand, the offline message and the sweep over chats nobody replied to."""

import random
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from crm import services as crm
from crm.models import TimelineEntry
from teambox import assignment
from teambox.assignment.claims import claim
from teambox.conversations import open_conversation
from teambox.models import Agent, Conversation, Department, Message, RoutingRule
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


# Routing -------------------------------------------------------------------------------


def test_a_chat_is_routed_to_one_agent_and_left_alone_once_assigned(project, team, chat):
    assert [user.username for user in assignment.route_conversation(chat)] == ["anu"]
    assert [user.username for user in assignment.route_conversation(chat)] == ["anu"]
    assert assignee_names(chat) == ["anu"]
    entry = chat.contact.timeline.get(kind=TimelineEntry.Kind.ASSIGNMENT)
    assert entry.text == "Assigned to Anu"
    assert entry.data["strategy"] == "round_robin" and entry.data["users"][0]["name"] == "Anu"
    assert Agent.objects.get(pk=team[0].pk).last_assigned_at is not None


def test_the_channels_rule_wins_over_the_default_and_routes_to_its_department(
    project, sandbox, support, sales, team, chat
):
    team[2].departments.add(support)
    RoutingRule.objects.create(project=project, strategy="least_busy")
    RoutingRule.objects.create(project=project, channel=sandbox, department=support)
    assert assignment.rule_for(sandbox).department == support
    assert [user.username for user in assignment.route_conversation(chat)] == ["chitra"]
    chat.refresh_from_db()
    assert chat.department == support and chat.assignment_version == 1


def test_the_fallback_department_takes_the_chat_when_the_department_cannot(
    project, sandbox, support, sales, team, chat
):
    team[2].departments.add(support)
    team[1].departments.add(sales)
    Agent.objects.filter(pk=team[2].pk).update(presence=Agent.Presence.AWAY)
    RoutingRule.objects.create(
        project=project, channel=sandbox, department=support, fallback_department=sales
    )
    assert [user.username for user in assignment.route_conversation(chat)] == ["bala"]
    chat.refresh_from_db()
    assert chat.department == sales


def test_agents_offline_may_take_chats_when_the_rule_allows_it(project, sandbox, chat):
    build_agent(project, "off", online=False)
    RoutingRule.objects.create(project=project, only_online=False)
    assert [user.username for user in assignment.route_conversation(chat)] == ["off"]


def test_nobody_online_sends_the_offline_message_once_per_wait(
    project, sandbox, asha, django_capture_on_commit_callbacks
):
    build_agent(project, "off", online=False)
    RoutingRule.objects.create(project=project, offline_message="We are away, back at 9.")
    waited = timezone.now() - timedelta(minutes=1)
    chat, _ = open_conversation(sandbox, asha)
    Conversation.objects.filter(pk=chat.pk).update(waiting_since=waited)
    assert assignment.route_conversation(chat, send_offline_message=False) == []
    assert not Message.objects.filter(direction="out").exists()
    with django_capture_on_commit_callbacks():
        assert assignment.route_conversation(chat) == []
        assert assignment.route_conversation(chat) == []
    sent = Message.objects.get(direction="out")
    assert sent.body == "We are away, back at 9." and sent.contact == asha
    # The offline message answers nobody: the customer still waits for an agent.
    assert Conversation.objects.get(pk=chat.pk).waiting_since == waited
    entries = asha.timeline.filter(kind=TimelineEntry.Kind.ASSIGNMENT)
    assert [entry.text for entry in entries] == [
        "No agent could take the chat: the offline message was sent."
    ]
    # A new wait (an agent answered, the customer wrote again) may get it again.
    Conversation.objects.filter(pk=chat.pk).update(waiting_since=timezone.now())
    with django_capture_on_commit_callbacks():
        assignment.route_conversation(chat)
    assert Message.objects.filter(direction="out").count() == 2


def test_an_offline_message_that_cannot_go_out_says_why_on_the_timeline(project, asha, chat):
    RoutingRule.objects.create(project=project, offline_message="Away")
    crm.set_blacklisted(asha, True)
    assert assignment.route_conversation(chat) == []
    assert not Message.objects.filter(direction="out").exists()
    entry = asha.timeline.get(kind=TimelineEntry.Kind.ASSIGNMENT)
    assert entry.text.startswith("No agent could take the chat, and the offline message could not")


def test_a_claim_made_on_an_old_version_changes_nothing(project, team, chat):
    assignment.assign_users(chat, [team[1].user])
    assert claim(chat, 0, team[0].user_id) is None
    assert assignee_names(chat) == ["bala"]
    assert claim(chat, 1, team[0].user_id) == [team[1].user]
    assert assignee_names(chat) == ["anu"]


# Assigning and removing by hand --------------------------------------------------------


def test_users_and_every_enabled_agent_of_departments_are_assigned_once(
    project, sales, team, chat, member
):
    team[1].departments.add(sales)
    team[2].departments.add(sales)
    build_agent(project, "gone", departments=[sales], enabled=False)
    assigned = assignment.assign_users(
        chat, [team[0].user, team[1].user], departments=[sales], author=member, note="VIP, be quick"
    )
    assert [user.username for user in assigned] == ["anu", "bala", "chitra"]
    chat.refresh_from_db()
    assert chat.assignment_version == 1 and chat.department == sales
    assert Agent.objects.filter(last_assigned_at__isnull=False).count() == 3
    entry = chat.contact.timeline.get(kind=TimelineEntry.Kind.ASSIGNMENT)
    assert entry.text == "Assigned to Anu, Bala, Chitra: VIP, be quick"
    assert entry.author == member and entry.data["note"] == "VIP, be quick"
    # Assigning who is assigned already changes nothing.
    assert len(assignment.assign_users(chat, [team[0].user])) == 3
    assert Conversation.objects.get(pk=chat.pk).assignment_version == 1


def test_an_internal_message_over_160_characters_is_refused(team, chat):
    with pytest.raises(ValueError, match="has 161 characters; at most 160"):
        assignment.assign_users(chat, [team[0].user], note="x" * 161)
    assert assignee_names(chat) == []


def test_users_are_removed_from_a_chat_some_or_all(team, chat, member):
    assignment.assign_users(chat, [agent.user for agent in team])
    assert assignment.remove_assignees(chat, [team[0].user], author=member) == [team[0].user]
    assert assignment.remove_assignees(chat, [team[0].user]) == []
    removed = assignment.remove_assignees(chat)
    assert sorted(user.username for user in removed) == ["bala", "chitra"]
    assert assignee_names(chat) == []
    assert Conversation.objects.get(pk=chat.pk).assignment_version == 3
    kicks = chat.contact.timeline.filter(kind=TimelineEntry.Kind.KICK).order_by("id")
    assert [entry.text for entry in kicks] == [
        "Removed Anu from the chat",
        "Removed Bala, Chitra from the chat",
    ]
    assert kicks[0].author == member


# The sweep over chats nobody replied to ------------------------------------------------


def test_the_sweep_sends_the_offline_message_once_after_the_no_response_minutes(
    project, sandbox, asha, team, django_capture_on_commit_callbacks
):
    RoutingRule.objects.create(
        project=project, offline_message="Sorry for the wait", no_response_minutes=10
    )
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        chat, _ = open_conversation(sandbox, asha)
        Conversation.objects.filter(pk=chat.pk).update(waiting_since=start)
        assignment.route_conversation(chat)
        clock.shift(timedelta(minutes=9, seconds=59))
        assert assignment.sweep_unanswered_chats() == (0, 0)
        clock.shift(timedelta(seconds=1))
        with django_capture_on_commit_callbacks():
            assert assignment.sweep_unanswered_chats() == (1, 0)
            clock.shift(timedelta(minutes=10))
            assert assignment.sweep_unanswered_chats() == (0, 0)
    assert Message.objects.get(direction="out").body == "Sorry for the wait"
    assert asha.timeline.filter(
        text="Nobody replied within 10 minutes: the offline message was sent."
    ).exists()


def test_the_sweep_reassigns_a_chat_nobody_replied_to_to_another_agent(
    project, sandbox, asha, team, settings
):
    settings.PICKY_AGENT_PRESENCE_SECONDS = 86400  # the agents' heartbeats hold all along
    RoutingRule.objects.create(project=project, channel=sandbox, reassign_after_minutes=5)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        chat, _ = open_conversation(sandbox, asha)
        Conversation.objects.filter(pk=chat.pk).update(waiting_since=start)
        assignment.route_conversation(chat)
        assert assignee_names(chat) == ["anu"]
        clock.shift(timedelta(minutes=4))
        assert assignment.sweep_unanswered_chats() == (0, 0)
        clock.shift(timedelta(minutes=1))
        assert assignment.sweep_unanswered_chats() == (0, 1)
        assert assignee_names(chat) == ["bala"]
        # Five minutes from the new assignment, not from the customer's message.
        clock.shift(timedelta(minutes=4))
        assert assignment.sweep_unanswered_chats() == (0, 0)
        clock.shift(timedelta(minutes=1))
        # Only anu is online: the chat goes back to them, the one who can take it.
        Agent.objects.exclude(pk=team[0].pk).update(presence=Agent.Presence.OFFLINE)
        assert assignment.sweep_unanswered_chats() == (0, 1)
        assert assignee_names(chat) == ["anu"]
        clock.shift(timedelta(minutes=5))
        Agent.objects.update(presence=Agent.Presence.OFFLINE)
        assert assignment.sweep_unanswered_chats() == (0, 0)
        assert assignee_names(chat) == ["anu"]
        # A reply ends the wait.
        Agent.objects.update(presence=Agent.Presence.ONLINE)
        Conversation.objects.filter(pk=chat.pk).update(waiting_since=None)
        clock.shift(timedelta(minutes=30))
        assert assignment.sweep_unanswered_chats() == (0, 0)
    entry = asha.timeline.filter(kind=TimelineEntry.Kind.ASSIGNMENT).order_by("id")[1]
    assert entry.text == "Reassigned from Anu to Bala: no reply within 5 minutes"


def test_the_default_rule_sweeps_only_channels_without_a_rule_of_their_own(
    project, sandbox, email_channel, asha, team, settings
):
    settings.PICKY_AGENT_PRESENCE_SECONDS = 86400
    RoutingRule.objects.create(project=project, reassign_after_minutes=5)
    RoutingRule.objects.create(project=project, channel=email_channel)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        chats = [open_conversation(channel, asha)[0] for channel in (sandbox, email_channel)]
        Conversation.objects.update(waiting_since=start)
        for chat in chats:
            assignment.route_conversation(chat)
        clock.shift(timedelta(minutes=6))
        assert assignment.sweep_unanswered_chats() == (0, 1)
    assert [assignee_names(chat) for chat in chats] == [["chitra"], ["bala"]]
