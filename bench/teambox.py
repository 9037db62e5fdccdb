"""Teambox pages: the inbox and a conversation of 500 messages, rendered in a project of
10,000 conversations and 1,000,000 messages, against a 100 ms target of server time.

    .venv/bin/python -m bench.teambox

Run on PostgreSQL. It uses its own database, BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/picky_bench_teambox), creates it when missing and
empties it first: never point it at a database you care about.

The project is seeded in bulk (INSERT ... SELECT over generate_series): 10,000 contacts
with one sandbox conversation each, 100 messages on each conversation but two (one of
500, one of 5), every message with its timeline line, as the webhook and reply paths
write them. Pages are rendered in process by Django's test client (middleware, access
rule, templates and all), BENCH_TEAMBOX_REQUESTS (30) times each after a warm-up; the
figure is the median. Each page's queries are counted, and counted again where it shows
fewer rows (an inbox tab of 5 chats, a conversation of 5 messages): the numbers must
not grow with the rows shown. The ratio is the 100 ms target over the median, as the other
benchmarks' ratios read (≥ 1 is met: 2 means twice as fast as needed); the CPU time of
the process (Django's share of the work) is printed beside it.
The last line is `RESULT name=value ...`.
"""

import os
import statistics
import time

from bench import support

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/picky_bench_teambox"
CONVERSATIONS = 10_000
MESSAGES_EACH = 100
BIG, SMALL = 500, 5
AGENT_CHATS = 2_000
ADMIN_CHATS = 5
REQUESTS = int(os.environ.get("BENCH_TEAMBOX_REQUESTS", 30))
WARM_UP = 3
TARGET_MS = 100.0


def setup_django():
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="picky.settings",
        SECRET_KEY=os.environ.get("SECRET_KEY", support.BENCH_SECRET_KEY),
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    )
    support.setup_django(url, "memory://localhost/")
    support.empty_database()


def people(project):
    """An admin (sees every chat) and an agent of the Sales department."""
    from django.contrib.auth import get_user_model

    from picky.models import Membership
    from teambox.models import Department
    from tests.builders import build_agent

    get_user_model().objects.filter(username__startswith="bench-teambox-").delete()
    sales = Department.objects.create(project=project, name="Sales")
    support_team = Department.objects.create(project=project, name="Support")
    admin = build_agent(project, "bench-teambox-admin", role=Membership.Role.ADMIN).user
    agent = build_agent(project, "bench-teambox-agent", departments=[sales]).user
    return admin, agent, (sales, support_team)


def seed():
    """The project, its people, conversations, messages and timeline; returns what the
    measures need."""
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from crm.models import Contact, TimelineEntry
    from picky.models import Project
    from teambox.models import Channel, Conversation, ConversationAssignee, Message

    project = Project.objects.create(name="Bench teambox", slug="bench-teambox")
    admin, agent, departments = people(project)
    channel = Channel.objects.create(project=project, name="Sandbox", kind=Channel.Kind.SANDBOX)
    now = timezone.now()
    with transaction.atomic():
        contacts = Contact.objects.bulk_create(
            Contact(project=project, number=f"9198{n:08d}", name=f"Lead {n}")
            for n in range(CONVERSATIONS)
        )
        chats = Conversation.objects.bulk_create(
            Conversation(
                project=project,
                channel=channel,
                contact=contact,
                department=departments[n % 2],
                last_message_at=now - timedelta(minutes=n),
            )
            for n, contact in enumerate(contacts)
        )
        ConversationAssignee.objects.bulk_create(
            [ConversationAssignee(conversation=chat, user=admin) for chat in chats[:ADMIN_CHATS]]
            + [
                ConversationAssignee(conversation=chat, user=agent, unread_count=n % 3)
                for n, chat in enumerate(chats[:AGENT_CHATS])
            ]
        )
    big, small = chats[0], chats[1]
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        template = template_message(project, channel, contacts[0])
        insert_messages(cursor, template, "c.id NOT IN (%s, %s)", [big.pk, small.pk], MESSAGES_EACH)
        insert_messages(cursor, template, "c.id = %s", [big.pk], BIG)
        insert_messages(cursor, template, "c.id = %s", [small.pk], SMALL)
        cursor.execute(f"DELETE FROM {template._meta.db_table} WHERE id = %s", [template.pk])
        insert_timeline(cursor, project, channel)
    # As autovacuum would leave them, before it wakes up during the measures.
    with connection.cursor() as cursor:
        for model in (Message, TimelineEntry, Conversation, ConversationAssignee, Contact):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    return {
        "project": project,
        "admin": admin,
        "agent": agent,
        "big": big,
        "small": small,
        "seconds": time.monotonic() - started,
    }


def template_message(project, channel, contact):
    """A message whose columns the bulk insert copies (all but those it sets itself), so
    the insert needs no list of the model's columns."""
    from teambox.models import Message

    return Message.objects.create(
        project=project,
        channel=channel,
        contact=contact,
        direction=Message.Direction.IN,
        address=contact.number,
        body="template",
        status=Message.Status.RECEIVED,
    )


def insert_messages(cursor, template, where, params, each):
    """`each` messages on every conversation of the project matching `where` (on `c`),
    alternately received and sent, a minute apart, every tenth with an image link."""
    from crm.models import Contact
    from teambox.models import Conversation, Message

    set_here = {
        "contact_id": "c.contact_id",
        "address": "k.number",
        "direction": "CASE WHEN g %% 2 = 0 THEN 'in' ELSE 'out' END",
        "status": "CASE WHEN g %% 2 = 0 THEN 'received' ELSE 'delivered' END",
        "body": "'Message ' || g || ' about order ' || c.id",
        "media_url": "CASE WHEN g %% 10 = 0 THEN 'https://cdn.example.com/p/' || g || '.jpg' "
        "ELSE '' END",
        "provider_id": "'bench-' || c.id || '-' || g",
        "created_at": "c.last_message_at - (g * interval '1 minute')",
        "updated_at": "c.last_message_at - (g * interval '1 minute')",
    }
    columns = [f.column for f in Message._meta.concrete_fields if f.column != "id"]
    values = [set_here.get(column, f"t.{column}") for column in columns]
    cursor.execute(
        f"INSERT INTO {Message._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM {Message._meta.db_table} t, "
        f"{Conversation._meta.db_table} c JOIN {Contact._meta.db_table} k ON k.id = c.contact_id, "
        f"generate_series(1, %s) g WHERE t.id = %s AND c.project_id = %s AND {where}",
        [each, template.pk, template.project_id, *params],
    )


def insert_timeline(cursor, project, channel):
    """Each message's line on its contact's timeline, as message_log and conversations
    write them."""
    from crm.models import TimelineEntry
    from teambox.models import Message

    cursor.execute(
        f"INSERT INTO {TimelineEntry._meta.db_table} "
        "(project_id, contact_id, kind, text, data, author_id, created_at) "
        "SELECT project_id, contact_id, "
        "CASE WHEN direction = 'in' THEN 'message_in' ELSE 'message_out' END, "
        "CASE WHEN body = '' THEN media_url ELSE body END, "
        "jsonb_build_object('message', id, 'channel', %s::text), NULL, created_at "
        f"FROM {Message._meta.db_table} WHERE project_id = %s",
        [channel.name, project.pk],
    )


def measure(client, url):
    """(median ms, 90th percentile ms, median CPU ms of this process, queries) of GET
    `url`. The CPU time is Django's own work (the database's is not in it): on a machine
    shared with other work it tells how much of the wall time was waiting for a core."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(WARM_UP):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    times, cpu = [], []
    for _ in range(REQUESTS):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    median = statistics.median(times)
    return median, statistics.quantiles(times, n=10)[-1], statistics.median(cpu), len(queries)


def queries_of(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def main():
    setup_django()
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from crm.models import TimelineEntry
    from teambox.models import Conversation, Message

    data = seed()
    project = data["project"]
    counts = (
        Conversation.objects.filter(project=project).count(),
        Message.objects.filter(project=project).count(),
        TimelineEntry.objects.filter(project=project).count(),
    )
    print(
        f"Teambox pages bench on {support.machine()}, PostgreSQL {connection.pg_version // 10000}:"
        f" {counts[0]:,} conversations, {counts[1]:,} messages, {counts[2]:,} timeline lines"
        f" (seeded in {data['seconds']:.0f} s); {REQUESTS} requests per page, median"
    )
    inbox = reverse("teambox_pages:inbox", args=[project.slug])
    chat = reverse("teambox_pages:conversation", args=[project.slug, data["big"].pk])
    small = reverse("teambox_pages:conversation", args=[project.slug, data["small"].pk])
    admin, agent = Client(), Client()
    admin.force_login(data["admin"])
    agent.force_login(data["agent"])
    pages = [
        ("inbox_all", "inbox, admin, all chats (50 shown)", admin, f"{inbox}?tab=all",
         ("inbox, admin, mine (5 shown)", f"{inbox}?tab=mine")),
        ("inbox_agent", f"inbox, agent, mine ({AGENT_CHATS:,}, 50 shown)", agent, inbox,
         ("inbox, agent, searched (1 shown)", f"{inbox}?q=Lead+{AGENT_CHATS - 1}")),
        ("conversation", f"conversation of {BIG} messages (100 shown)", agent, chat,
         (f"conversation of {SMALL} messages", small)),
    ]  # fmt: skip
    figures, constant = {}, True
    for key, label, client, url, (fewer_label, fewer_url) in pages:
        median, p90, cpu, queries = measure(client, url)
        fewer = queries_of(client, fewer_url)
        constant = constant and fewer == queries
        ratio = TARGET_MS / median
        print(
            f"{label:<40} {median:6.1f} ms (p90 {p90:5.1f}, CPU {cpu:5.1f})  {queries:>2} queries"
            f"   ratio {TARGET_MS:g} ms/median {ratio:.2f} ({support.against(ratio, 1)})"
        )
        print(f"{fewer_label:<40} {'':>30}  {fewer:>2} queries")
        figures[f"{key}_ms"] = median
        figures[f"{key}_ratio"] = ratio
        figures[f"{key}_cpu_ms"] = cpu
        figures[f"{key}_queries"] = queries
    print(f"queries constant as the rows shown grow: {'yes' if constant else 'NO'}")
    print(
        support.result_line(
            "teambox",
            **figures,
            queries_constant=int(constant),
            conversations=counts[0],
            messages=counts[1],
        )
    )


if __name__ == "__main__":
    main()
