"""Ingest: Picky's connector URL under gunicorn against a bare Django view.

Both run under the same gunicorn (gunicorn.conf.py: Picky's worker, as the
Procfile runs it; production settings, DEBUG off) on the same PostgreSQL; wrk
posts the same ~1 KB lead payload to each for the same duration and concurrency,
after a discarded warm-up, in alternating rounds so both see the same machine
(others may share it). The bare view
parses the JSON and INSERTs one jsonb row; Picky also looks up the connector,
keeps headers and source IP, and hands the event to Celery (Redis) on commit.
Afterwards every accepted request must be an event in the database.

    .venv/bin/python -m bench.ingest
    BENCH_DURATION=20 BENCH_CONNECTIONS=16 BENCH_WEB_WORKERS=4 ...   (defaults)
"""

import json
import os
import re
import statistics
import subprocess
import tempfile
from pathlib import Path

from . import support

DURATION = int(os.environ.get("BENCH_DURATION", 30))
ROUNDS = 3
WARMUP = int(os.environ.get("BENCH_WARMUP", 5))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", 16))
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", 4))
TARGET_RATIO = 0.7
TARGET_P99_MS = 50


def lead_payload():
    """A lead as a form or ad platform sends it: about 1 KB of JSON."""
    payload = {
        "id": "lead_8f3a2c91",
        "created_at": "2026-11-20T10:15:00+05:30",
        "name": "Asha Menon",
        "phone": "+91 98470 12345",
        "email": "asha.menon@example.com",
        "state": "Kerala",
        "city": "Kochi",
        "pincode": "682001",
        "amount": 1499,
        "product": {"sku": "LAMP-01", "name": "Brass table lamp", "quantity": 2},
        "utm": {"source": "facebook", "medium": "cpc", "campaign": "diwali-lamps"},
        "consent": {"whatsapp": True, "email": True},
        "answers": [
            {"question": "Preferred time to call", "answer": "Evening"},
            {"question": "Budget", "answer": "1000-2000"},
        ],
    }
    filler = 1024 - len(json.dumps(payload))
    payload["notes"] = ("Interested in the larger size; asked about delivery. " * 20)[
        : max(0, filler - 12)
    ]
    return json.dumps(payload)


def wrk_script(body):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [==[{body}]==]\n"
        )
    return script.name


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(output):
    def latency(label):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
        return float(match.group(1)) * UNITS[match.group(2)]

    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


def load(url, script, seconds):
    output = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", script, url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    return parse_wrk(output)


def measure(servers, script):
    """Warm each server up, then load them in alternating rounds so that both see
    the same machine (other work on it varies over time). Returns figures per name:
    requests/s over all rounds, the median round's p50 and p99, and rows stored."""
    for _, url, _, _ in servers:
        load(url, script, WARMUP)
    rounds = {name: [] for name, _, _, _ in servers}
    stored = {name: 0 for name, _, _, _ in servers}
    cpu = {name: [0.0, 0.0] for name, _, _, _ in servers}
    for _ in range(ROUNDS):
        for name, url, count_rows, process in servers:
            before = count_rows()
            meter = support.CpuMeter(process)
            meter.start()
            rounds[name].append(load(url, script, DURATION // ROUNDS))
            server_seconds, database_seconds = meter.stop()
            cpu[name][0] += server_seconds
            cpu[name][1] += database_seconds
            stored[name] += count_rows() - before
    results = {}
    for name, per_round in rounds.items():
        requests = sum(r["requests"] for r in per_round)
        figures = {
            "rps": sum(r["rps"] for r in per_round) / len(per_round),
            "p50_ms": statistics.median(r["p50_ms"] for r in per_round),
            "p99_ms": statistics.median(r["p99_ms"] for r in per_round),
            "non_2xx": sum(r["non_2xx"] for r in per_round),
            "socket_errors": sum(r["socket_errors"] for r in per_round),
            "requests": requests,
            "stored": stored[name],
            "web_cpu_ms": cpu[name][0] * 1000 / max(1, requests),
            "db_cpu_ms": cpu[name][1] * 1000 / max(1, requests),
        }
        # wrk stops with up to CONNECTIONS requests in flight: stored, but not counted.
        figures["lost"] = max(0, requests - figures["non_2xx"] - figures["stored"])
        results[name] = figures
        print(
            f"{name:<6} {figures['rps']:>7.0f} req/s   p50 {figures['p50_ms']:>6.2f} ms   "
            f"p99 {figures['p99_ms']:>6.2f} ms   non-2xx {figures['non_2xx']}   "
            f"socket errors {figures['socket_errors']}   "
            f"{requests} answered, {figures['stored']} stored, {figures['lost']} lost"
        )
        print(
            f"       CPU per request: web {figures['web_cpu_ms']:.2f} ms, "
            f"database {figures['db_cpu_ms']:.2f} ms"
        )
        print(
            "       rounds: "
            + ", ".join(f"{r['rps']:.0f} req/s p99 {r['p99_ms']:.1f} ms" for r in per_round)
        )
    return results


def main():
    support.require_tool("wrk", "apt-get install -y wrk")
    support.fresh_bench_environment()

    from django.db import connection

    from bench.baseline import TABLE
    from connectors.models import Connector, Event
    from picky.models import Project

    project = Project.objects.create(name="Bench", slug="bench")
    connector = Connector.objects.create(project=project, name="Leads")

    def count_bare():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {TABLE}")
            return cursor.fetchone()[0]

    def count_events():
        return Event.objects.filter(connector=connector, status=Event.Status.QUEUED).count()

    body = lead_payload()
    script = wrk_script(body)
    print(f"Ingest bench on {support.machine()}, PostgreSQL {connection.pg_version // 10000}")
    print(
        f"gunicorn --workers {WEB_WORKERS} (gunicorn.conf.py), wrk -t2 -c{CONNECTIONS}, "
        f"{len(body)}-byte JSON lead, {WARMUP} s warm-up discarded, {DURATION} s measured "
        f"in {ROUNDS} alternating rounds each"
    )
    # Connections outlive the measurement, so the CPU of each is counted whole.
    env = {"CONN_MAX_AGE": "600"}
    bare_port, picky_port = support.free_port(), support.free_port()
    servers = []
    try:
        bare_server = support.start_gunicorn(
            "bare-web", "bench.baseline.wsgi:application", bare_port, WEB_WORKERS,
            env={**env, "DJANGO_SETTINGS_MODULE": "bench.baseline.settings"},
        )  # fmt: skip
        servers.append(bare_server)
        picky_server = support.start_gunicorn(
            "picky-web", "picky.wsgi:application", picky_port, WEB_WORKERS, env=env
        )
        servers.append(picky_server)
        results = measure(
            [("bare", f"http://127.0.0.1:{bare_port}/hooks/x", count_bare, bare_server),
             ("picky", f"http://127.0.0.1:{picky_port}{connector.path}", count_events,
              picky_server)],
            script,
        )  # fmt: skip
        web_rss = picky_server.peak_rss_mb()
        picky_server.stop()  # publishes what its workers still hold
        events_per_message = count_events() / max(1, support.queued_messages())
    finally:
        for server in servers:
            server.stop()
        Path(script).unlink()
        support.purge_broker()

    bare, picky = results["bare"], results["picky"]
    ratio = picky["rps"] / bare["rps"]
    worker_rss = max(rss for pid, rss in web_rss.items() if pid != picky_server.pid)
    cpu_ratio = (bare["web_cpu_ms"] + bare["db_cpu_ms"]) / (
        picky["web_cpu_ms"] + picky["db_cpu_ms"]
    )
    print(f"ratio picky/bare {ratio:.2f}   ({support.against(ratio, TARGET_RATIO)})")
    print(
        f"CPU ratio bare/picky per request (web + database) {cpu_ratio:.2f} (both are CPU-bound: "
        "the throughput ratio on a machine of their own)"
    )
    print(
        f"picky p99 {picky['p99_ms']:.1f} ms at {CONNECTIONS} connections   "
        f"({support.against(picky['p99_ms'], TARGET_P99_MS, higher_is_better=False)})"
    )
    failures = picky["non_2xx"] + picky["socket_errors"]
    print(f"picky non-2xx + socket errors {failures}   ({support.against(failures, 0, False)})")
    print(f"picky events lost {picky['lost']}   ({support.against(picky['lost'], 0, False)})")
    print(f"web worker peak RSS {worker_rss:.0f} MB (largest of {len(web_rss) - 1} workers)")
    print(
        f"events per message published: {events_per_message:.1f} "
        "(events accepted within PICKY_EVENT_BATCH_SECONDS of each other travel together)"
    )
    support.discard_logs()
    print(
        support.result_line(
            "ingest",
            picky_rps=picky["rps"],
            bare_rps=bare["rps"],
            ratio=ratio,
            cpu_ratio=cpu_ratio,
            picky_p50_ms=picky["p50_ms"],
            picky_p99_ms=picky["p99_ms"],
            bare_p50_ms=bare["p50_ms"],
            bare_p99_ms=bare["p99_ms"],
            picky_non_2xx=picky["non_2xx"],
            picky_socket_errors=picky["socket_errors"],
            bare_non_2xx=bare["non_2xx"],
            picky_lost=picky["lost"],
            picky_web_cpu_ms=picky["web_cpu_ms"],
            picky_db_cpu_ms=picky["db_cpu_ms"],
            bare_web_cpu_ms=bare["web_cpu_ms"],
            bare_db_cpu_ms=bare["db_cpu_ms"],
            web_rss_mb=worker_rss,
            events_per_message=events_per_message,
        )
    )


if __name__ == "__main__":
    main()
