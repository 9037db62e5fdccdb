"""Engine: runs of a 3-step, 5-action connector on real Celery workers (Redis),
against a bare Celery task that loads a row and marks it done.

Phases, for Picky and for the bare task, on the same worker settings:
1. Throughput: for each worker concurrency of BENCH_WORKER_CONCURRENCY (2 and 4
   processes), BENCH_EVENTS events (5,000) drain in BENCH_ROUNDS rounds (2), every
   side's worker in turn, so that a machine whose speed drifts slows all alike. Each
   round's events wait in the broker while the worker is paused (SIGSTOP), in
   messages of BENCH_EVENTS_PER_MESSAGE (5) as the web processes publish them in a
   storm (the bare task: one message per row), on a queue of the worker's own; then
   the worker resumes and drains them. Runs/s is taken from the finish times between
   the 10th and the 90th percentile (warm-up and tail discarded). Each side is then
   measured at the concurrency that drained it fastest, as an operator would tune
   it: Picky's runs are CPU-bound and lose to more processes than cores, the bare
   task mostly waits on round trips and gains from them.
2. Offered load, on each side's best worker: events are ingested (as by a web
   process: published in batches of those accepted within PICKY_EVENT_BATCH_SECONDS)
   at BENCH_RATE (200) per second for BENCH_RATE_SECONDS while the worker runs, then
   again at half the drain rate; p50/p99 from the event's receipt to its run's end (the first
   seconds discarded), and the backlog (events in minus runs finished)
   sampled every second: growth above 0/s means the rate is not sustained.
Also, for reference: the bare task given its rows in the same messages of
BENCH_EVENTS_PER_MESSAGE as Picky's events (one SELECT and one UPDATE a message), drained
in the same rounds: the limit of that message shape. Also: database queries per run,
measured in-process on an empty history and again after all the runs above, and the
worker's peak RSS after them.

    .venv/bin/python -m bench.engine
"""

import json
import os
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import support
from .baseline import QUEUE
from .ingest import lead_payload

EVENTS = int(os.environ.get("BENCH_EVENTS", 5000))
RATE = int(os.environ.get("BENCH_RATE", 200))
RATE_SECONDS = int(os.environ.get("BENCH_RATE_SECONDS", 15))
RATE_WARMUP_SECONDS = 3
CONCURRENCIES = tuple(
    int(processes) for processes in os.environ.get("BENCH_WORKER_CONCURRENCY", "2,4").split(",")
)
# The backlog drains in this many rounds per side, Picky's and the bare task's in turn.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 2))
# Each worker drains a queue of its own (a paused worker may still take one message
# of it), and the side's shared queue once it is the side's best: Picky's web
# processes publish to Celery's default queue, the bare ingest to the bare queue.
BARE_QUEUE = QUEUE
# Events per message in the backlog: the ingest bench measures how many the web
# processes put in one (about 9 at 620 webhooks/s; PICKY_EVENT_BATCH_SECONDS). Five is
# the conservative figure: more events per message favour Picky.
EVENTS_PER_MESSAGE = int(os.environ.get("BENCH_EVENTS_PER_MESSAGE", 5))
# The bare task given its rows in the same messages as Picky's events: the limit of that
# message shape, drained for reference (the target ratio is against the bare task).
BARE_IN_MESSAGES = f"bare{EVENTS_PER_MESSAGE}"
QUERY_SAMPLE = 20
DRAIN_TIMEOUT = 600
TARGET_RUNS_PER_SECOND = 400
TARGET_RATIO = 0.5
TARGET_QUERIES = 12
TARGET_WORKER_RSS_MB = 150

CONNECTOR = {
    "format": "picky.connector/v1",
    "name": "Website leads",
    "enabled": True,
    "field_mapping": {
        "number": "{{ event.phone }}",
        "name": "{{ event.name }}",
        "email": "{{ event.email }}",
        "attributes": {"state": "{{ event.state }}"},
    },
    "steps": [
        {
            "name": "Qualify",
            "filters": [[{"field": "{{ event.state }}", "op": "equals", "value": "Kerala"}]],
            "actions": [
                {"type": "set_variable", "config": {"name": "lead", "value": "{{ event.name }}"}},
                {
                    "type": "set_variable",
                    "config": {"name": "campaign", "value": "{{ event.utm.campaign }}"},
                },
            ],
        },
        {
            "name": "Count big leads",
            "filters": [[{"field": "{{ event.amount }}", "op": "gt", "value": "1000"}]],
            "actions": [{"type": "trigger_counter", "config": {"name": "leads:{{ event.state }}"}}],
        },
        {
            "name": "Tag",
            "actions": [
                {"type": "add_tag", "config": {"tags": ["lead", "{{ vars.campaign }}"]}},
                {"type": "set_variable", "config": {"name": "tagged", "value": "yes"}},
            ],
        },
    ],
}


def lead(n):
    """The ingest bench's lead, from one of 1,000 phone numbers (contacts recur)."""
    payload = json.loads(lead_payload())
    payload["id"] = f"lead_{n}"
    payload["phone"] = f"+91 98470 {n % 1000:05d}"
    payload["email"] = f"lead{n % 1000}@example.com"
    return payload


# Picky --------------------------------------------------------------------------------


TRANSACTION_CONTROL = re.compile(r"^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.I)
FIRST_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?([a-z]+)_', re.I)


def picky_queries_per_run(connector, count, per_message=1):
    """What engine.process_events asks of the database for messages of `per_message`
    events, run in this process: mean statements per run (BEGIN/COMMIT/SAVEPOINT apart),
    the maximum of a message's over its runs, the mean of transaction-control round
    trips per run, and the statements per run by the app owning the table."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from connectors import engine
    from connectors.models import Event

    statements, control, by_app = [], [], {}
    for start in range(0, count, per_message):
        events = [
            Event.objects.create(
                project_id=connector.project_id, connector=connector, payload=lead(n),
                method="POST", received_at=timezone.now(),
            )
            for n in range(start, start + per_message)
        ]  # fmt: skip
        with CaptureQueriesContext(connection) as queries:
            engine.process_events([event.pk for event in events])
        sqls = [query["sql"] for query in queries.captured_queries]
        control.append(sum(1 for sql in sqls if TRANSACTION_CONTROL.match(sql)) / per_message)
        statements.append((len(sqls) - control[-1] * per_message) / per_message)
        for sql in sqls:
            if not TRANSACTION_CONTROL.match(sql):
                match = FIRST_TABLE.search(sql)
                app = match.group(1) if match else "other"
                by_app[app] = by_app.get(app, 0) + 1
    return {
        "mean": statistics.mean(statements),
        "max": max(statements),
        "transaction_control": statistics.mean(control),
        "by_app": {app: round(n / count, 1) for app, n in sorted(by_app.items())},
    }


def picky_backlog(connector, count, queue):
    """`count` queued events and their messages, published while no worker runs, as web
    processes publish them in a storm: EVENTS_PER_MESSAGE to a message."""
    from django.utils import timezone

    from connectors.models import Event
    from connectors.tasks import process_events

    now = timezone.now()
    events = Event.objects.bulk_create(
        Event(project_id=connector.project_id, connector=connector, payload=lead(n),
              method="POST", received_at=now, enqueued_at=now)
        for n in range(count)
    )  # fmt: skip
    ids = [event.pk for event in events]
    for start in range(0, count, EVENTS_PER_MESSAGE):
        process_events.apply_async((ids[start : start + EVENTS_PER_MESSAGE],), queue=queue)
    return ids


def picky_finish_times(event_ids):
    """{event id: (received, finished)} of the events' runs that have finished.

    Polled while the workers drain, so it must cost the same whatever the history: one
    index lookup per event. (Through the ORM, PostgreSQL's plan scanned every first run
    of the history: the poll took half a core after 25,000 runs, taken from the runs
    it was timing.)"""
    from django.db import connection

    from connectors.models import Event, Run

    with connection.cursor() as cursor:
        # LIMIT 1 keeps each lookup a subquery of its own, so that stale statistics (the
        # tables grow fast here) cannot turn the lookups into a scan.
        cursor.execute(
            "SELECT ids.id, e.received_at, r.finished_at FROM unnest(%s::bigint[]) AS ids(id) "
            "CROSS JOIN LATERAL (SELECT received_at FROM "
            f"{Event._meta.db_table} WHERE id = ids.id LIMIT 1) e "
            "CROSS JOIN LATERAL (SELECT finished_at FROM "
            f"{Run._meta.db_table} WHERE event_id = ids.id AND replay_of_id IS NULL LIMIT 1) r "
            "WHERE r.finished_at IS NOT NULL",
            [list(event_ids)],
        )
        return {event_id: (received, finished) for event_id, received, finished in cursor}


def picky_ingest_one(connector, n):
    """Accept one event as a web process does (its id published with the others accepted
    within PICKY_EVENT_BATCH_SECONDS)."""
    from connectors import queue, services

    queue.publish_events_in_batches()
    event = services.record_event(connector, lead(n), method="POST", headers={}, source_ip=None)
    return event.pk


# Bare -------------------------------------------------------------------------------


def bare_backlog(count, queue, per_message=1):
    """`count` rows and their messages, `per_message` row ids to a message (bare_run for
    one, bare_run_many for more)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from bench.baseline import TABLE
    from picky.celery import app

    now = timezone.now()
    ids = []
    with transaction.atomic(), connection.cursor() as cursor:
        for n in range(count):
            cursor.execute(
                f"INSERT INTO {TABLE} (payload, received_at) VALUES (%s, %s) RETURNING id",
                [json_text(lead(n)), now],
            )
            ids.append(cursor.fetchone()[0])
    if per_message == 1:
        for row_id in ids:
            app.send_task("bench.bare_run", (row_id,), queue=queue)
    else:
        for start in range(0, count, per_message):
            app.send_task("bench.bare_run_many", (ids[start : start + per_message],), queue=queue)
    return ids


def bare_ingest_one(n):
    from django.db import connection
    from django.utils import timezone

    from bench.baseline import TABLE
    from picky.celery import app

    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (payload, received_at) VALUES (%s, %s) RETURNING id",
            [json_text(lead(n)), timezone.now()],
        )
        row_id = cursor.fetchone()[0]
    app.send_task("bench.bare_run", (row_id,), queue=BARE_QUEUE)
    return row_id


def bare_finish_times(ids):
    from django.db import connection

    from bench.baseline import TABLE

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, received_at, done_at FROM {TABLE} "
            "WHERE id = ANY(%s) AND done_at IS NOT NULL",
            [list(ids)],
        )
        return {row_id: (received, done) for row_id, received, done in cursor.fetchall()}


def json_text(value):
    return json.dumps(value)


# Measuring --------------------------------------------------------------------------


def wait_finished(ids, finish_times, timeout=DRAIN_TIMEOUT):
    """Poll until every id has finished; returns {id: (received, finished)}. Each poll asks
    only for the ids not yet finished: the polling shares the machine with the runs it
    times."""
    deadline = time.monotonic() + timeout
    done, unfinished = {}, list(ids)
    while time.monotonic() < deadline:
        done.update(finish_times(unfinished))
        unfinished = [event_id for event_id in unfinished if event_id not in done]
        if not unfinished:
            return done
        time.sleep(0.5)
    raise TimeoutError(f"{len(unfinished)} of {len(ids)} runs unfinished")


def drain_rate(done):
    """Runs per second between the 10th and 90th percentile of finish times."""
    finished = sorted(end for _, end in done.values())
    low, high = finished[len(finished) // 10], finished[len(finished) * 9 // 10]
    span = (high - low).total_seconds()
    return (len(finished) * 0.8) / span if span > 0 else float("inf")


def offered_load(rate, ingest_one, finish_times):
    """Offer `rate` events per second for RATE_SECONDS; sample the backlog each second.

    Returns latencies (ms, events after the warm-up seconds) from receipt to the end of
    the run, the backlog samples, its growth per second and how far the producer fell
    behind its schedule (seconds).
    """
    ids, offered_at = [], []
    backlog = []
    started = time.monotonic()
    next_sample = started + 1
    for n in range(rate * RATE_SECONDS):
        due = started + n / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        ids.append(ingest_one(n))
        offered_at.append(due - started)
        if time.monotonic() >= next_sample:
            backlog.append(len(ids) - len(finish_times(ids)))
            next_sample += 1
    behind = time.monotonic() - started - RATE_SECONDS
    done = wait_finished(ids, finish_times)
    latencies = [
        (done[i][1] - done[i][0]).total_seconds() * 1000
        for i, at in zip(ids, offered_at, strict=True)
        if at >= RATE_WARMUP_SECONDS
    ]
    return {
        "rate": rate,
        "p50_ms": support.percentile(latencies, 0.5),
        "p99_ms": support.percentile(latencies, 0.99),
        "backlog": backlog,
        # Least-squares slope: one late sample (a pause of the producer) does not decide it.
        "growth": statistics.linear_regression(range(len(backlog)), backlog).slope
        if len(backlog) > 1
        else 0.0,
        "behind_s": behind,
    }


def describe(load):
    return (
        f"at {load['rate']}/s offered: p50 {load['p50_ms']:.0f} ms, p99 {load['p99_ms']:.0f} ms, "
        f"backlog {load['backlog']} (growth {load['growth']:+.1f}/s)"
        + (f", producer {load['behind_s']:.1f} s behind" if load["behind_s"] > 0.5 else "")
    )


@dataclass
class Side:
    """Picky or the bare task at one worker concurrency: how to queue its events and
    read their finish times, and its worker (paused while the others drain)."""

    name: str
    concurrency: int
    worker_app: str
    worker_env: dict
    shared_queue: str
    backlog: Callable
    finish_times: Callable
    ingest_one: Callable | None  # None: the side is measured draining only
    worker: support.Process | None = None
    rounds: list = field(default_factory=list)

    @property
    def label(self):
        return f"{self.name} ({self.concurrency} processes)"

    @property
    def queue(self):
        return f"bench_{self.name}_{self.concurrency}"

    @property
    def drain_rate(self):
        return statistics.mean(rate for rate, *_ in self.rounds)

    def start_worker(self):
        self.worker = support.start_celery_worker(
            f"{self.name}-{self.concurrency}-worker", self.worker_app, self.concurrency,
            self.worker_env, f"{self.queue},{self.shared_queue}",
        )  # fmt: skip
        self.worker.pause()

    def drain_round(self, count):
        """Queue `count` events while the worker is paused, then let it drain them:
        (runs/s, worker CPU seconds, database CPU seconds, runs metered)."""
        ids = self.backlog(count, self.queue)
        self.worker.resume()
        try:
            # Meter once the pool processes are busy (and, first time, connected).
            support.wait_until(
                lambda: len(self.finish_times(ids)) >= count // 20, DRAIN_TIMEOUT, 0.2
            )
            meter = support.CpuMeter(self.worker)
            meter.start()
            metered_from = len(self.finish_times(ids))
            done = wait_finished(ids, self.finish_times)
            worker_seconds, database_seconds = meter.stop()
        finally:
            self.worker.pause()
        self.rounds.append(
            (drain_rate(done), worker_seconds, database_seconds, max(1, len(done) - metered_from))
        )

    def drain_figures(self):
        """Runs/s and CPU per run over the rounds."""
        runs = sum(metered for *_, metered in self.rounds)
        return {
            "runs_per_s": self.drain_rate,
            "round_rates": [rate for rate, *_ in self.rounds],
            "worker_cpu_ms": sum(worker for _, worker, _, _ in self.rounds) * 1000 / runs,
            "db_cpu_ms": sum(database for _, _, database, _ in self.rounds) * 1000 / runs,
        }

    def describe_drain(self):
        figures = self.drain_figures()
        rates = ", ".join(f"{rate:.0f}" for rate in figures["round_rates"])
        print(
            f"{self.label:<22} {figures['runs_per_s']:>5.0f} runs/s draining {EVENTS} events "
            f"(rounds: {rates}); CPU per run: worker {figures['worker_cpu_ms']:.2f} ms, "
            f"database {figures['db_cpu_ms']:.2f} ms"
        )

    def finish(self):
        """Drain figures over the rounds, then the offered loads on the same worker; the
        worker stops."""
        figures = self.drain_figures()
        self.worker.resume()
        try:
            figures["fixed"] = offered_load(RATE, self.ingest_one, self.finish_times)
            figures["half"] = offered_load(
                max(5, round(figures["runs_per_s"] / 2)), self.ingest_one, self.finish_times
            )
            rss = self.worker.peak_rss_mb()
        finally:
            self.worker.stop()
        figures["worker_rss_mb"] = max(rss[pid] for pid in rss if pid != self.worker.pid)
        figures["worker_main_rss_mb"] = rss.get(self.worker.pid, 0.0)
        print(f"{self.label}, its best: {figures['runs_per_s']:.0f} runs/s")
        print(f"       {describe(figures['fixed'])}")
        print(f"       {describe(figures['half'])} (half the drain rate)")
        return figures


def main():
    support.fresh_bench_environment()

    from django.db import connection

    from connectors import transfer
    from picky.models import Project

    project = Project.objects.create(name="Bench", slug="bench", time_zone="Asia/Kolkata")
    connector = transfer.import_connector(project, CONNECTOR)

    print(f"Engine bench on {support.machine()}, PostgreSQL {connection.pg_version // 10000}")
    print(
        f"one Celery worker per side and concurrency (prefork, "
        f"{' and '.join(map(str, CONCURRENCIES))} processes), Redis broker; "
        f"connector: 3 steps, 5 actions (set_variable x3, trigger_counter, add_tag), "
        f"field mapping to a contact"
    )
    queries_empty = picky_queries_per_run(connector, QUERY_SAMPLE)
    # Connections outlive the measurement, so the CPU of each is counted whole.
    env = {"CONN_MAX_AGE": "600"}
    bare_env = {**env, "DJANGO_SETTINGS_MODULE": "bench.baseline.settings"}
    sides = []
    for concurrency in CONCURRENCIES:
        sides += [
            Side("picky", concurrency, "picky", env, "celery",
                 lambda count, queue: picky_backlog(connector, count, queue),
                 picky_finish_times, lambda n: picky_ingest_one(connector, n)),
            Side("bare", concurrency, "bench.baseline.tasks", bare_env, BARE_QUEUE,
                 bare_backlog, bare_finish_times, bare_ingest_one),
            Side(BARE_IN_MESSAGES, concurrency, "bench.baseline.tasks", bare_env,
                 f"bench_{BARE_IN_MESSAGES}",
                 lambda count, queue: bare_backlog(count, queue, EVENTS_PER_MESSAGE),
                 bare_finish_times, None),
        ]  # fmt: skip
    try:
        for side in sides:
            side.start_worker()
        # Alternating rounds: a machine whose speed drifts (others share it) slows all.
        for _ in range(ROUNDS):
            for side in sides:
                side.drain_round(EVENTS // ROUNDS)
        for side in sides:
            side.describe_drain()
        best_picky, best_bare, best_bare_in_messages = (
            max((side for side in sides if side.name == name), key=lambda side: side.drain_rate)
            for name in ("picky", "bare", BARE_IN_MESSAGES)
        )
        # Only the best worker of each side may take from the side's shared queue.
        for side in sides:
            if side not in (best_picky, best_bare):
                side.worker.stop()
        picky = best_picky.finish()
        queries_full = picky_queries_per_run(connector, QUERY_SAMPLE)
        queries_in_messages = picky_queries_per_run(connector, QUERY_SAMPLE, EVENTS_PER_MESSAGE)
        from connectors.models import Run

        runs = Run.objects.filter(connector=connector)
        history = runs.count()
        failed = list(runs.exclude(status=Run.Status.SUCCEEDED).values_list("status", "error")[:3])
        bare = best_bare.finish()
    finally:
        for side in sides:
            if side.worker is not None:
                side.worker.stop()
        support.purge_broker(("celery", BARE_QUEUE, *(side.queue for side in sides)))

    ratio = picky["runs_per_s"] / bare["runs_per_s"]
    ratio_in_messages = picky["runs_per_s"] / best_bare_in_messages.drain_rate
    rate_of = {(side.name, side.concurrency): side.drain_rate for side in sides}
    ratios_at = {
        concurrency: rate_of["picky", concurrency] / rate_of["bare", concurrency]
        for concurrency in CONCURRENCIES
    }
    worker_runs = (
        EVENTS // ROUNDS * ROUNDS + (picky["fixed"]["rate"] + picky["half"]["rate"]) * RATE_SECONDS
    )
    print(
        f"picky {picky['runs_per_s']:.0f} runs/s   "
        f"({support.against(picky['runs_per_s'], TARGET_RUNS_PER_SECOND)})"
    )
    cpu_ratio = (bare["worker_cpu_ms"] + bare["db_cpu_ms"]) / (
        picky["worker_cpu_ms"] + picky["db_cpu_ms"]
    )
    print(
        f"ratio picky/bare {ratio:.2f}, each at its best concurrency "
        f"({best_picky.concurrency} and {best_bare.concurrency} processes)   "
        f"({support.against(ratio, TARGET_RATIO)})"
    )
    print(
        "       at the same concurrency: "
        + ", ".join(f"{n} processes {r:.2f}" for n, r in ratios_at.items())
    )
    print(
        f"       against the bare task given the same messages of {EVENTS_PER_MESSAGE} "
        f"({BARE_IN_MESSAGES}: one SELECT and one UPDATE a message, the limit of Picky's "
        f"message shape): {best_bare_in_messages.drain_rate:.0f} runs/s with "
        f"{best_bare_in_messages.concurrency} processes, ratio {ratio_in_messages:.2f} "
        "(a reference, not a target)"
    )
    print(
        f"CPU ratio bare/picky per run (worker + database) {cpu_ratio:.2f} (both are CPU-bound: "
        "the throughput ratio on a machine of their own)"
    )
    print(
        f"queries per run (statements; BEGIN/COMMIT apart): {queries_empty['mean']:.1f} "
        f"(max {queries_empty['max']}) on an empty history, {queries_full['mean']:.1f} "
        f"(max {queries_full['max']}) after {history} runs   "
        f"({support.against(queries_full['max'], TARGET_QUERIES, higher_is_better=False)}); "
        "bare task: 2"
    )
    print(
        f"       by app: {queries_full['by_app']}; "
        f"plus {queries_full['transaction_control']:.1f} BEGIN/COMMIT round trips"
    )
    print(
        f"       in messages of {EVENTS_PER_MESSAGE} (the runs of a message commit together): "
        f"{queries_in_messages['mean']:.1f} statements and "
        f"{queries_in_messages['transaction_control']:.1f} BEGIN/COMMIT round trips per run"
    )
    print(
        f"worker peak RSS {picky['worker_rss_mb']:.0f} MB per pool process "
        f"(main {picky['worker_main_rss_mb']:.0f} MB) after {worker_runs} runs "
        f"({support.against(picky['worker_rss_mb'], TARGET_WORKER_RSS_MB, False)}); "
        f"bare {bare['worker_rss_mb']:.0f} MB"
    )
    if failed:
        print(f"runs that did not succeed (first {len(failed)}): {failed}")
    support.discard_logs()
    print(
        support.result_line(
            "engine",
            picky_runs_per_s=picky["runs_per_s"],
            bare_runs_per_s=bare["runs_per_s"],
            ratio=ratio,
            picky_concurrency=best_picky.concurrency,
            bare_concurrency=best_bare.concurrency,
            **{f"ratio_at_{n}_processes": r for n, r in ratios_at.items()},
            **{f"{name}_runs_per_s_at_{n}_processes": rate for (name, n), rate in rate_of.items()},
            bare_in_messages_runs_per_s=best_bare_in_messages.drain_rate,
            bare_in_messages_concurrency=best_bare_in_messages.concurrency,
            ratio_to_bare_in_messages=ratio_in_messages,
            cpu_ratio=cpu_ratio,
            offered_rate=RATE,
            picky_backlog_growth_per_s=picky["fixed"]["growth"],
            bare_backlog_growth_per_s=bare["fixed"]["growth"],
            picky_p50_ms_at_fixed_rate=picky["fixed"]["p50_ms"],
            picky_p99_ms_at_fixed_rate=picky["fixed"]["p99_ms"],
            bare_p50_ms_at_fixed_rate=bare["fixed"]["p50_ms"],
            bare_p99_ms_at_fixed_rate=bare["fixed"]["p99_ms"],
            picky_half_rate=picky["half"]["rate"],
            picky_p50_ms_at_half_rate=picky["half"]["p50_ms"],
            picky_p99_ms_at_half_rate=picky["half"]["p99_ms"],
            bare_half_rate=bare["half"]["rate"],
            bare_p50_ms_at_half_rate=bare["half"]["p50_ms"],
            bare_p99_ms_at_half_rate=bare["half"]["p99_ms"],
            queries_per_run=queries_full["mean"],
            queries_per_run_max=queries_full["max"],
            queries_per_run_empty_history=queries_empty["mean"],
            transaction_round_trips_per_run=queries_full["transaction_control"],
            queries_per_run_in_messages=queries_in_messages["mean"],
            transaction_round_trips_per_run_in_messages=queries_in_messages["transaction_control"],
            history_runs=history,
            worker_rss_mb=picky["worker_rss_mb"],
            bare_worker_rss_mb=bare["worker_rss_mb"],
            picky_worker_cpu_ms=picky["worker_cpu_ms"],
            picky_db_cpu_ms=picky["db_cpu_ms"],
            bare_worker_cpu_ms=bare["worker_cpu_ms"],
            bare_db_cpu_ms=bare["db_cpu_ms"],
            failed_runs=len(failed),
        )
    )


if __name__ == "__main__":
    main()
