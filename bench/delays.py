"""Delays at scale: the sweep's claim and a cancel by identifier with 1,000,000 pending rows,
and how late 10,000 delays that come due at once are fired.

Run on PostgreSQL: `.venv/bin/python -m bench.delays`. It uses its own
database, BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/picky_bench_delays), creates it when
missing and empties it first: never point it at a database you care about.

Each query is timed first against an empty table, then against 1,000,000
pending rows (plus 200,000 fired ones, as history), and the ratio printed:
a ratio near 1 means the indexes keep the query independent of the backlog.
Every timed statement runs in a transaction that is rolled back, so the data
stays the same between repetitions. Then 10,000 delays of as many waiting runs come
due at the same moment, just after a sweep (the worst phase: they wait a whole
sweep interval), and the sweep runs every PICKY_DELAY_SWEEP_SECONDS as beat would;
lateness is each row's fired time minus its due time. The resumed runs are
published to an in-process broker: this measures the firing, not the runs.
The last line is
`RESULT name=value ...` for the bench runner.
"""

import os
import statistics
import sys
import time
from datetime import timedelta

from bench.support import BENCH_SECRET_KEY

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/picky_bench_delays"
PENDING = int(os.environ.get("BENCH_DELAYS_PENDING", 1_000_000))
FIRED = PENDING // 5
CONNECTORS = 10
RUNS = 1000
DUE = 600  # rows already due when the sweep is timed (more than one batch)
# About three pending rows per identifier; a multiple of RUNS keeps an
# identifier's rows on one run, hence on one connector.
IDENTIFIERS = max(RUNS, PENDING // 3 // RUNS * RUNS)
REPEAT = 25
IDENTIFIER = "order-4242"
COMING_DUE = int(os.environ.get("BENCH_DELAYS_COMING_DUE", 10_000))


def setup_django():
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        sys.exit("bench.delays runs on PostgreSQL: set BENCH_DATABASE_URL=postgres://...")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "picky.settings")
    os.environ.setdefault("SECRET_KEY", BENCH_SECRET_KEY)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # A host named, or kombu warns that it supplies one.
    os.environ.setdefault("CELERY_BROKER_URL", "memory://localhost/")
    create_database(url)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def create_database(url):
    import environ
    import psycopg
    from psycopg import sql

    settings = environ.Env.db_url_config(url)
    name = settings["NAME"]
    with psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def empty_database():
    from django.db import connection

    from picky.models import Project

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Project._meta.db_table} CASCADE")


def build_fixture():
    """A project, its connectors (one delayed step each) and RUNS waiting runs."""
    from django.utils import timezone

    from connectors.models import Connector, Event, Run, Step
    from picky.models import Project

    project = Project.objects.create(name="Bench", slug="bench", time_zone="Asia/Kolkata")
    connectors, steps = [], []
    for n in range(CONNECTORS):
        connector = Connector.objects.create(project=project, name=f"Connector {n}")
        connectors.append(connector)
        steps.append(
            Step.objects.create(
                connector=connector,
                position=0,
                delay={
                    "mode": "fixed",
                    "amount": 1,
                    "unit": "days",
                    "identifier": "{{ event.id }}",
                },
            )
        )
    now = timezone.now()
    events = Event.objects.bulk_create(
        Event(
            project=project,
            connector=connectors[n % CONNECTORS],
            payload={"n": n},
            method="POST",
            received_at=now,
            status=Event.Status.PROCESSED,
        )
        for n in range(RUNS)
    )
    Run.objects.bulk_create(
        Run(
            project=project,
            connector_id=event.connector_id,
            event=event,
            status=Run.Status.WAITING,
            context={"vars": {}},
        )
        for event in events
    )
    return project, connectors


def fill_schedules(project, connectors):
    """PENDING pending rows over the next 90 days, DUE of them already due, and FIRED history."""
    from django.db import connection

    from connectors.models import Run, ScheduledStep, Step

    run_ids = list(Run.objects.filter(project=project).order_by("pk").values_list("pk", flat=True))
    step_of = dict(Step.objects.values_list("connector_id", "pk"))
    first_connector = connectors[0].pk
    table = ScheduledStep._meta.db_table
    # Run n belongs to connector n % CONNECTORS, so row i uses run (i % RUNS)
    # and its connector, and the step of that connector.
    statement = f"""
        INSERT INTO {table}
            (project_id, connector_id, run_id, step_id, due_at, identifier, status, created_at)
        SELECT %(project)s,
               %(first_connector)s + (i %% {RUNS}) %% {CONNECTORS},
               (%(run_ids)s::bigint[])[1 + i %% {RUNS}],
               (%(step_ids)s::bigint[])[1 + (i %% {RUNS}) %% {CONNECTORS}],
               CASE WHEN %(status)s = 'pending' AND i < {DUE}
                    THEN now() - make_interval(secs => i + 1)
                    ELSE now() + make_interval(secs => 60 + i * (90 * 86400.0 / %(count)s))
               END,
               'order-' || (i %% %(identifiers)s),
               %(status)s,
               now()
        FROM generate_series(0, %(count)s - 1) AS i
    """
    steps_by_connector = [step_of[c.pk] for c in connectors]
    with connection.cursor() as cursor:
        for status, count in (("pending", PENDING), ("fired", FIRED)):
            cursor.execute(
                statement,
                {
                    "project": project.pk,
                    "first_connector": first_connector,
                    "run_ids": run_ids,
                    "step_ids": steps_by_connector,
                    "status": status,
                    "count": count,
                    "identifiers": max(1, IDENTIFIERS),
                },
            )
        cursor.execute(f"ANALYZE {table}")


def timed(function, repeat=REPEAT):
    """Median milliseconds of `function()`, each call in a rolled-back transaction."""
    from django.db import transaction

    samples = []
    result = None
    for _ in range(repeat):
        with transaction.atomic():
            started = time.perf_counter()
            result = function()
            samples.append((time.perf_counter() - started) * 1000)
            transaction.set_rollback(True)
    return statistics.median(samples), result


def measure(connector, now):
    from connectors import delays

    idle_moment = now - timedelta(days=1)  # nothing is due yet at this moment
    claim_idle, idle_rows = timed(lambda: delays.claim_due(idle_moment, delays.SWEEP_BATCH_SIZE))
    claim_due, due_rows = timed(lambda: delays.claim_due(now, delays.SWEEP_BATCH_SIZE))
    sweep_batch, fired = timed(lambda: delays.fire_due_batch(delays.SWEEP_BATCH_SIZE), repeat=5)
    lookup, matching = timed(lambda: list(delays.pending_delays(connector, IDENTIFIER)))
    cancel, cancelled = timed(
        lambda: delays.cancel_delays(connector, IDENTIFIER, "Cancelled by the bench.")
    )
    return {
        "claim_idle": (claim_idle, len(idle_rows)),
        "claim_due": (claim_due, len(due_rows)),
        "sweep_batch": (sweep_batch, fired),
        "cancel_lookup": (lookup, len(matching)),
        "cancel": (cancel, cancelled),
    }


def measure_lateness(project, connectors):
    """Seconds from due to fired for COMING_DUE delays due at one moment: (p50, p99, max)."""
    from django.conf import settings
    from django.utils import timezone

    from connectors import delays
    from connectors.models import Event, Run, ScheduledStep, Step

    step_of = dict(Step.objects.values_list("connector_id", "pk"))
    now = timezone.now()
    events = Event.objects.bulk_create(
        Event(project=project, connector=connectors[n % CONNECTORS], payload={"n": n},
              method="POST", received_at=now, status=Event.Status.PROCESSED)
        for n in range(COMING_DUE)
    )  # fmt: skip
    runs = Run.objects.bulk_create(
        Run(project=project, connector_id=event.connector_id, event=event,
            status=Run.Status.WAITING, context={"vars": {}})
        for event in events
    )  # fmt: skip
    interval = settings.PICKY_DELAY_SWEEP_SECONDS
    delays.sweep_due_delays()  # the sweep that runs just before they come due
    next_tick = time.monotonic() + interval
    due_at = timezone.now() + timedelta(seconds=0.1)
    ScheduledStep.objects.bulk_create(
        ScheduledStep(project=project, connector_id=run.connector_id, run=run,
                      step_id=step_of[run.connector_id], due_at=due_at, identifier=f"due-{run.pk}")
        for run in runs
    )  # fmt: skip
    coming = ScheduledStep.objects.filter(identifier__startswith="due-")
    give_up = time.monotonic() + 20 * interval
    while coming.filter(status="pending").exists() and time.monotonic() < give_up:
        time.sleep(max(0.0, next_tick - time.monotonic()))
        next_tick += interval
        delays.sweep_due_delays()
    late = sorted(
        (fired - due).total_seconds()
        for fired, due in coming.filter(status="fired").values_list("fired_at", "due_at")
    )
    if len(late) < COMING_DUE:
        sys.exit(f"only {len(late)} of {COMING_DUE} due delays fired")
    return late[len(late) // 2], late[int(len(late) * 0.99)], late[-1], interval


def plan_of(query_sql, params):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + query_sql, params)
        return " / ".join(row[0].split("  (cost")[0].strip() for row in cursor.fetchall())


def claim_plan(now):
    from django.db import transaction

    from connectors import delays

    with transaction.atomic():
        query = (
            delays.ScheduledStep.objects.select_for_update(skip_locked=True)
            .filter(status="pending", due_at__lte=now)
            .order_by("due_at")[: delays.SWEEP_BATCH_SIZE]
        )
        sql, params = query.query.sql_with_params()
        return plan_of(sql, params)


def cancel_plan(connector):
    from connectors import delays

    sql, params = delays.pending_delays(connector, IDENTIFIER).query.sql_with_params()
    return plan_of(sql, params)


def main():
    setup_django()
    from django.db import connection
    from django.utils import timezone

    from connectors.models import ScheduledStep

    empty_database()
    project, connectors = build_fixture()
    now = timezone.now()
    # Row i has identifier "order-<i % IDENTIFIERS>" and connector i % RUNS % CONNECTORS.
    target = connectors[int(IDENTIFIER.split("-")[1]) % RUNS % CONNECTORS]
    baseline = measure(target, now)

    started = time.perf_counter()
    fill_schedules(project, connectors)
    fill_seconds = time.perf_counter() - started
    now = timezone.now()
    loaded = measure(target, now)
    pending = ScheduledStep.objects.filter(status="pending").count()

    print(f"Delays bench on PostgreSQL {connection.pg_version // 10000}")
    print(
        f"{pending:,} pending and {FIRED:,} fired rows written in {fill_seconds:.1f} s; "
        f"median of {REPEAT} rolled-back runs per query (5 for the full batch)."
    )
    print(f"claim plan:  {claim_plan(now)}")
    print(f"cancel plan: {cancel_plan(target)}")
    print(f"{'query':<34}{'empty table':>14}{f'{pending:,} pending':>20}{'ratio':>8}  rows")
    labels = {
        "claim_idle": "sweep claim, nothing due",
        "claim_due": "sweep claim, a batch due",
        "sweep_batch": "sweep batch: claim+fire+resume",
        "cancel_lookup": "cancel: find pending by identifier",
        "cancel": "cancel: cancel and stop the runs",
    }
    results = {}
    for key, label in labels.items():
        empty_ms, _ = baseline[key]
        full_ms, rows = loaded[key]
        ratio = full_ms / empty_ms if empty_ms else float("inf")
        results[key] = (full_ms, ratio)
        print(f"{label:<34}{empty_ms:>11.3f} ms{full_ms:>17.3f} ms{ratio:>8.1f}  {rows}")
    p50, p99, worst, interval = measure_lateness(project, connectors)
    target = interval + 1
    print(
        f"{COMING_DUE:,} delays due at once, sweep every {interval:g} s: fired "
        f"p50 {p50:.2f} s / p99 {p99:.2f} s / max {worst:.2f} s after their due time "
        f"(target p99 <= {target:g} s: {'met' if p99 <= target else 'short'})"
    )
    print(
        "RESULT "
        f"pending_rows={pending} "
        f"sweep_idle_ms={results['claim_idle'][0]:.3f} "
        f"sweep_idle_ratio={results['claim_idle'][1]:.2f} "
        f"sweep_claim_ms={results['claim_due'][0]:.3f} "
        f"sweep_claim_ratio={results['claim_due'][1]:.2f} "
        f"sweep_batch_ms={results['sweep_batch'][0]:.3f} "
        f"cancel_lookup_ms={results['cancel_lookup'][0]:.3f} "
        f"cancel_lookup_ratio={results['cancel_lookup'][1]:.2f} "
        f"cancel_ms={results['cancel'][0]:.3f} "
        f"lateness_p50_s={p50:.2f} lateness_p99_s={p99:.2f} lateness_max_s={worst:.2f}"
    )


if __name__ == "__main__":
    main()
