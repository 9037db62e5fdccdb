"""Assignment: round-robin picks per second from 16 parallel clients over 10 online
agents, against a bare baseline under the same lock.

    .venv/bin/python -m bench.assignment

Run on PostgreSQL. It uses its own database, BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/picky_bench_assignment), creates it when missing and
empties it first: never point it at a database you care about.

Each client is a process of its own with its own connection (threads would measure
Python's GIL). Picky's pick is teambox.assignment.pick_agents (round robin, online only,
capacity respected, "last assigned" updated): the pool's advisory lock, the pool's
place, the eligible agents with their open chats, and the two writes, in one
transaction. The bare baseline takes the same advisory lock and runs one
`UPDATE ... RETURNING` on the agents table (the least recently assigned agent gets
now()). Both sides run BENCH_ASSIGNMENT_SECONDS (5) per round, BENCH_ROUNDS (3) rounds,
one after the other within a round; the ratio is the median of the rounds' ratios (a
machine whose speed drifts slows both sides of a round alike), picks/s the best round of
each side. Picky's picks must come out even: every agent within one pick of the others.
The last line is `RESULT name=value ...`.
"""

import multiprocessing
import os
import statistics
import time
from collections import Counter

from bench import support

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/picky_bench_assignment"
CLIENTS = int(os.environ.get("BENCH_ASSIGNMENT_CLIENTS", 16))
AGENTS = 10
SECONDS = float(os.environ.get("BENCH_ASSIGNMENT_SECONDS", 5))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
TARGET_RATIO = 0.5


def setup_django():
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="picky.settings",
        SECRET_KEY=os.environ.get("SECRET_KEY", support.BENCH_SECRET_KEY),
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        # The agents' heartbeats are not renewed while the bench runs.
        PICKY_AGENT_PRESENCE_SECONDS="86400",
    )
    support.setup_django(url, "memory://localhost/")
    support.empty_database()


def team():
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from picky.models import Membership, Project
    from teambox.models import Agent
    from tests.builders import build_agent

    get_user_model().objects.filter(username__startswith="bench-agent-").delete()
    project = Project.objects.create(name="Bench", slug="bench")
    agents = [build_agent(project, f"bench-agent-{n}") for n in range(AGENTS)]
    Agent.objects.filter(project=project).update(last_seen_at=timezone.now())
    assert Membership.objects.filter(project=project).count() == AGENTS
    return project, agents


def picky_pick(project):
    from teambox.assignment import pick_agents

    (agent,) = pick_agents(
        project, strategy="round_robin", limit=1, respect_capacity=True, update_last_assigned=True
    )
    return agent.pk


def bare_pick(project):
    from django.db import connection, transaction

    from teambox.models import Agent
    from teambox.queries import lock_assignment_pool

    table = Agent._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        lock_assignment_pool(project.pk, "")
        cursor.execute(
            f"UPDATE {table} SET last_assigned_at = now() WHERE id = (SELECT id FROM {table} "
            "WHERE project_id = %s ORDER BY last_assigned_at NULLS FIRST, id LIMIT 1) "
            "RETURNING id",
            [project.pk],
        )
        return cursor.fetchone()[0]


def client(pick, project, start, results):
    """Pick from `start` until SECONDS have passed; put (picks, agent ids counted)."""
    start.wait()
    deadline = time.monotonic() + SECONDS
    picked = Counter()
    while time.monotonic() < deadline:
        picked[pick(project)] += 1
    results.put(picked)


def measure(pick, project):
    """Picks per second of CLIENTS processes picking together, and who was picked."""
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(CLIENTS + 1), context.Queue()
    processes = [
        context.Process(target=client, args=(pick, project, start, results)) for _ in range(CLIENTS)
    ]
    for process in processes:
        process.start()
    start.wait()
    began = time.monotonic()
    picked = Counter()
    for _ in processes:
        picked.update(results.get(timeout=SECONDS + 120))
    elapsed = time.monotonic() - began
    for process in processes:
        process.join(30)
    return sum(picked.values()) / elapsed, picked


def main():
    setup_django()
    from django.db import connection

    project, agents = team()
    print(
        f"Assignment bench on {support.machine()}, PostgreSQL {connection.pg_version // 10000}: "
        f"{CLIENTS} client processes, {AGENTS} online agents, {SECONDS:g} s per round"
    )
    rates = {"picky": [], "bare": []}
    for _ in range(ROUNDS):
        for name, pick in (("picky", picky_pick), ("bare", bare_pick)):
            rate, picked = measure(pick, project)
            rates[name].append(rate)
            if name == "picky":
                spread = max(picked[agent.pk] for agent in agents) - min(
                    picked[agent.pk] for agent in agents
                )
                assert set(picked) <= {agent.pk for agent in agents}, picked
                assert spread <= 1, f"round robin is uneven: {picked}"
            print(f"{name:<6} {rate:>7.0f} picks/s", flush=True)
    picky, bare = max(rates["picky"]), max(rates["bare"])
    ratios = [p / b for p, b in zip(rates["picky"], rates["bare"], strict=True)]
    ratio = statistics.median(ratios)
    print(f"picky {picky:.0f} picks/s, bare {bare:.0f} picks/s (best rounds)")
    print(
        f"ratio picky/bare {ratio:.2f}, the median of the rounds' "
        f"({', '.join(f'{r:.2f}' for r in ratios)})   ({support.against(ratio, TARGET_RATIO)})"
    )
    print(
        support.result_line(
            "assignment",
            picky_picks_per_s=picky,
            bare_picks_per_s=bare,
            ratio=ratio,
            clients=CLIENTS,
            agents=AGENTS,
        )
    )


if __name__ == "__main__":
    main()
