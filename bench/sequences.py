"""Sequences at scale: 100,000 subscribers on a sequence; the sweep with nothing due, and a
due batch of 1,000 deliveries sent through the sandbox channel.

Run on PostgreSQL: `.venv/bin/python -m bench.sequences`. It uses its own database,
BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/picky_bench_sequences),
creates it when missing and empties it first: never point it at a database you care about.

Each subscriber has two pending deliveries spread over the next 90 days. The sweep with
nothing due is counted in queries (one) and timed against a bare claim of the same rows:
the same `SELECT ... FOR UPDATE SKIP LOCKED` written by hand, without Django, in its own
transaction as the sweep's. Then 1,000
deliveries come due and one sweep sends them all (claim, checks, 1,000 teambox messages
queued, recorded on the timelines, sent through the sandbox adapter in one batch and marked
delivered);
it is timed against the target of 5 s, and against a bare claim of those 1,000 rows.
Timed claims run in transactions that are rolled back. The last line is `RESULT ...`.
"""

import os
import statistics
import sys
import time

from bench.support import against, ensure_services, result_line, setup_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/picky_bench_sequences"
SUBSCRIBERS = int(os.environ.get("BENCH_SEQUENCE_SUBSCRIBERS", 100_000))
DUE = 1000
REPEAT = 25
IDLE_REPEAT = 200
TARGET_SECONDS = 5.0

BARE_CLAIM = """
    SELECT id FROM journeys_delivery
    WHERE status = 'pending' AND due_at <= %s
    ORDER BY due_at LIMIT %s
    FOR UPDATE SKIP LOCKED
"""


def build_fixture():
    """A project, its sandbox channel, a two-step sequence and SUBSCRIBERS subscribers with
    their deliveries, all due in the future."""
    from django.db import connection
    from django.utils import timezone

    from crm.models import Contact
    from journeys.sequences.models import Sequence, SequenceMessage
    from picky.models import Project
    from teambox.models import Channel

    project = Project.objects.create(name="Bench", slug="bench", time_zone="Asia/Kolkata")
    channel = Channel.objects.create(project=project, name="Sandbox", kind=Channel.Kind.SANDBOX)
    sequence = Sequence.objects.create(project=project, name="Welcome", channel=channel)
    steps = [
        SequenceMessage.objects.create(
            sequence=sequence, position=0, text="Hi {{ contact.name }}", delay_amount=1
        ),
        SequenceMessage.objects.create(
            sequence=sequence, position=1, text="Tips for you", delay_amount=5
        ),
    ]
    Contact.objects.bulk_create(
        (
            Contact(project=project, number=f"91{9_000_000_000 + n}", name=f"Contact {n}")
            for n in range(SUBSCRIBERS)
        ),
        batch_size=5000,
    )
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO journeys_subscription (sequence_id, contact_id, started_at, status, reason)
            SELECT %s, id, %s, 'active', '' FROM crm_contact WHERE project_id = %s
            """,
            [sequence.pk, now, project.pk],
        )
        # Due over the next 90 days, a minute from now at the earliest.
        cursor.execute(
            """
            INSERT INTO journeys_delivery (subscription_id, message_id, due_at, status, reason)
            SELECT s.id, m.id,
                   %s + make_interval(secs => 60 + (s.id %% 7776000)),
                   'pending', ''
            FROM journeys_subscription s CROSS JOIN unnest(%s::bigint[]) AS m(id)
            WHERE s.sequence_id = %s
            """,
            [now, [step.pk for step in steps], sequence.pk],
        )
        cursor.execute("ANALYZE journeys_delivery")
    return sequence


def timed(function, repeat=REPEAT):
    """Median milliseconds of `function()`, each call in a rolled-back transaction."""
    from django.db import transaction

    samples, result = [], None
    for _ in range(repeat):
        with transaction.atomic():
            started = time.perf_counter()
            result = function()
            samples.append((time.perf_counter() - started) * 1000)
            transaction.set_rollback(True)
    return statistics.median(samples), result


def bare_claim(now, limit):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(BARE_CLAIM, [now, limit])
        return cursor.fetchall()


def claim_plan(now):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + BARE_CLAIM, [now, 500])
        return " / ".join(row[0].split("  (cost")[0].strip() for row in cursor.fetchall())


def idle_sweep():
    """(median ms of a sweep with nothing due, its queries, median ms of the bare claim),
    the two timed in turns so that a machine whose load drifts slows both alike."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from journeys.sequences.sweep import sweep_due_deliveries

    with CaptureQueriesContext(connection) as queries:
        sweep_due_deliveries()
    statements = [q for q in queries if not q["sql"].startswith(("BEGIN", "COMMIT"))]
    sweeps, bare = [], []
    for _ in range(IDLE_REPEAT):
        started = time.perf_counter()
        sweep_due_deliveries()
        sweeps.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        with transaction.atomic():
            bare_claim(timezone.now(), 500)
        bare.append((time.perf_counter() - started) * 1000)
    return statistics.median(sweeps), len(statements), statistics.median(bare)


def make_due(sequence):
    """DUE deliveries of different subscribers come due now."""
    from django.db import connection
    from django.utils import timezone

    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE journeys_delivery SET due_at = %s - make_interval(secs => id %% 600)
            WHERE id IN (
                SELECT d.id FROM journeys_delivery d
                JOIN journeys_sequencemessage m ON m.id = d.message_id
                WHERE m.sequence_id = %s AND m.position = 0
                ORDER BY d.id LIMIT %s
            )
            """,
            [now, sequence.pk, DUE],
        )
    return timezone.now()


def main():
    ensure_services()
    setup_django(os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL), "memory://localhost/")
    from django.db import connection
    from django.utils import timezone

    from bench.support import empty_database
    from journeys.sequences.models import Delivery
    from journeys.sequences.sweep import settle_due_batch
    from teambox.models import Message
    from teambox.services import deliver_messages

    empty_database()
    started = time.perf_counter()
    sequence = build_fixture()
    fill_seconds = time.perf_counter() - started
    pending = Delivery.objects.filter(status="pending").count()
    print(f"Sequences bench on PostgreSQL {connection.pg_version // 10000}")
    print(
        f"{SUBSCRIBERS:,} subscribers and {pending:,} pending deliveries written in "
        f"{fill_seconds:.1f} s; medians of {IDLE_REPEAT} runs in turns."
    )
    now = timezone.now()
    print(f"claim plan: {claim_plan(now)}")

    idle_ms, idle_queries, bare_idle_ms = idle_sweep()
    print(
        f"sweep, nothing due: {idle_queries} quer{'y' if idle_queries == 1 else 'ies'}, "
        f"{idle_ms:.3f} ms; bare claim {bare_idle_ms:.3f} ms "
        f"(ratio {idle_ms / bare_idle_ms:.2f})"
    )

    due_now = make_due(sequence)
    bare_due_ms, rows = timed(lambda: bare_claim(due_now, DUE), repeat=5)
    # The sweep's two halves, as sweep_due_deliveries runs them, timed apart.
    cpu, started = time.process_time(), time.perf_counter()
    settled, message_ids = settle_due_batch(DUE)
    settle_seconds = time.perf_counter() - started
    deliver_messages(message_ids)
    sweep_seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    delivered = Message.objects.filter(status=Message.Status.DELIVERED).count()
    if settled != DUE or delivered != DUE:
        sys.exit(f"the sweep settled {settled} and delivered {delivered} of {DUE}")
    print(
        f"sweep, {DUE:,} due: sent and delivered through the sandbox in {sweep_seconds:.2f} s "
        f"({against(sweep_seconds, TARGET_SECONDS, higher_is_better=False)}): claim and "
        f"queue {settle_seconds:.2f} s, send {sweep_seconds - settle_seconds:.2f} s; this "
        f"process's CPU {cpu_seconds:.2f} s; bare claim of the {len(rows):,} rows "
        f"{bare_due_ms:.1f} ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        result_line(
            "sequences",
            subscribers=SUBSCRIBERS,
            idle_queries=idle_queries,
            idle_ms=idle_ms,
            idle_bare_ms=bare_idle_ms,
            idle_ratio=idle_ms / bare_idle_ms,
            due=DUE,
            due_sweep_s=sweep_seconds,
            due_settle_s=settle_seconds,
            due_cpu_s=cpu_seconds,
            due_bare_claim_ms=bare_due_ms,
            delivered=delivered,
        )
    )


if __name__ == "__main__":
    main()
