"""Assignment under real parallelism on PostgreSQL: clients in threads, each with its own
database connection, picking from one pool at once."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from crm.models import TimelineEntry
from teambox import assignment
from teambox.conversations import open_conversation
from teambox.models import Agent, ConversationAssignee
from tests.builders import build_agent

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel: PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

CLIENTS = 16


def in_parallel(work, jobs, clients=CLIENTS):
    """Run `work(job)` for every job on `clients` threads started together; the results in
    the order of `jobs`."""
    start = threading.Barrier(clients)

    def client(batch):
        try:
            start.wait(30)
            return [work(job) for job in batch]
        finally:
            connections.close_all()

    batches = [jobs[n::clients] for n in range(clients)]
    with ThreadPoolExecutor(clients) as pool:
        done = list(pool.map(client, batches))
    results = [None] * len(jobs)
    for n, batch_results in enumerate(done):
        results[n::clients] = batch_results
    return results


def test_round_robin_from_16_clients_gives_each_online_agent_exactly_its_share(
    project, sandbox, asha
):
    agents = [build_agent(project, f"agent{n:02d}") for n in range(10)]
    offline = build_agent(project, "offline", online=False)
    full = build_agent(project, "full", max_open_chats=1)
    assignment.assign_users(open_conversation(sandbox, asha)[0], [full.user])

    def pick(_):
        (agent,) = assignment.pick_agents(
            project,
            strategy="round_robin",
            limit=1,
            respect_capacity=True,
            update_last_assigned=True,
        )
        return agent.pk

    counts = Counter(in_parallel(pick, list(range(8000))))
    assert counts == {agent.pk: 800 for agent in agents}
    assert offline.pk not in counts and full.pk not in counts
    assert Agent.objects.filter(pk__in=[offline.pk, full.pk], last_assigned_at=None).count() == 1


def test_parallel_routings_of_one_chat_assign_it_once(project, sandbox):
    build_agent(project, "anu")
    build_agent(project, "bala")
    chats = [
        open_conversation(sandbox, project.contacts.create(number=f"9198000{n:05d}"))[0]
        for n in range(20)
    ]
    routed = in_parallel(assignment.route_conversation, [chat for chat in chats for _ in range(4)])
    for n, chat in enumerate(chats):
        (assignee,) = ConversationAssignee.objects.filter(conversation=chat)
        # Every routing of the chat answers with the one assignee.
        assert {tuple(users) for users in routed[4 * n : 4 * n + 4]} == {(assignee.user,)}
        assert chat.contact.timeline.filter(kind=TimelineEntry.Kind.ASSIGNMENT).count() == 1
    # Round robin shared the chats out evenly.
    per_agent = Counter(ConversationAssignee.objects.values_list("user__username", flat=True))
    assert per_agent == {"anu": 10, "bala": 10}


def test_parallel_routings_never_give_an_agent_more_chats_than_their_capacity(project, sandbox):
    build_agent(project, "anu", max_open_chats=3)
    build_agent(project, "bala", max_open_chats=5)
    chats = [
        open_conversation(sandbox, project.contacts.create(number=f"9198000{n:05d}"))[0]
        for n in range(12)
    ]
    routed = in_parallel(assignment.route_conversation, chats)
    assert sum(1 for users in routed if users) == 8
    per_agent = Counter(ConversationAssignee.objects.values_list("user__username", flat=True))
    assert per_agent == {"anu": 3, "bala": 5}
