"""A throwaway Picky deployment for the fault drills: its own PostgreSQL (initdb in
a temporary folder) and Redis on free ports, gunicorn, a Celery worker and beat.

The drills kill and restart these processes; the machine's shared PostgreSQL
and Redis are never touched. PostgreSQL runs as the `postgres` user when this
runs as root (initdb refuses root).
"""

import glob
import io
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import suppress
from pathlib import Path

from bench import support

LEASE_SECONDS = 4
SWEEP_SECONDS = 1


def postgres_bin():
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if versions:
        return Path(versions[-1])
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise SystemExit("PostgreSQL binaries not found (/usr/lib/postgresql/*/bin or pg_ctl on PATH)")


class Postgres:
    """initdb + pg_ctl in a temporary folder, on 127.0.0.1:<port>."""

    def __init__(self, root):
        self.bin = postgres_bin()
        self.port = support.free_port()
        self.data = Path(root) / "pgdata"
        self.log = Path(root) / "postgres.log"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        self.as_owner(
            [self.bin / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
             "--no-sync", "-E", "UTF8"],
        )  # fmt: skip

    def as_owner(self, command, timeout=120):
        command = [str(part) for part in command]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
        return result

    def pg_ctl(self, *args, timeout=120):
        options = (
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 "
            "-c max_connections=100 -c shared_buffers=64MB"
        )
        return self.as_owner(
            [self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w",
             "-t", "60", *args],
            timeout=timeout,
        )  # fmt: skip

    def start(self):
        self.pg_ctl("start")

    def stop(self, mode="fast"):
        self.pg_ctl("stop", "-m", mode)

    def restart(self, mode="fast"):
        self.pg_ctl("restart", "-m", mode)

    def url(self, name):
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"


class Redis:
    """redis-server in the foreground on 127.0.0.1:<port>, without persistence."""

    def __init__(self):
        self.port = support.free_port()
        self.process = None

    def start(self):
        self.process = support.Process(
            "drill-redis",
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
        )  # fmt: skip
        support.wait_until(lambda: support.redis_answers(self.port), 30, message="Redis")

    def stop(self):
        self.process.kill()

    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"


class Cluster:
    """The deployment; `env` is what every Picky process of it gets.

    Like systemd or Kubernetes in production, a supervisor thread restarts gunicorn,
    the worker or beat when one exits without the drill having stopped it, and keeps
    the list in `restarts`: the drills report it.
    """

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="picky-drills-")
        self.postgres = Postgres(self.root)
        self.redis = Redis()
        self.web = self.worker = self.beat = None
        self.web_port = support.free_port()
        self.env = {}
        self.restarts = []
        self.stopping = threading.Event()
        self.supervisor = threading.Thread(target=self.supervise, daemon=True)

    def start(self):
        self.postgres.start()
        self.redis.start()
        database_url = self.postgres.url("picky_drills")
        support.create_database(database_url)
        self.env = {
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": self.redis.url(),
            "PICKY_RUN_LEASE_SECONDS": str(LEASE_SECONDS),
            # A short lease takes a short outbound cap (picky/time_limits.py); the drills
            # that call a server start a worker of their own (slow_header).
            "PICKY_OUTBOUND_TIMEOUT_CAP_SECONDS": str(LEASE_SECONDS / 2),
            "PICKY_STUCK_SWEEP_SECONDS": str(SWEEP_SECONDS),
            "PICKY_BROKER_RETRY_SECONDS": "1",
            # One task reserved per worker process: then two acknowledgements lost while
            # Redis is down fill the window, and a worker that did not recover from that
            # (picky/celery.py StalledConsumerWatch) would fail the Redis drill every time.
            "CELERY_WORKER_PREFETCH_MULTIPLIER": "1",
            "CONN_MAX_AGE": "60",
            "DEBUG": "false",
            "SECRET_KEY": support.BENCH_SECRET_KEY,
            "LOG_LEVEL": "WARNING",
        }
        os.environ.update(self.env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "picky.settings"
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("setup_schedules", stdout=io.StringIO())
        self.start_web()
        self.start_worker()
        self.start_beat()
        self.supervisor.start()

    def supervise(self):
        starters = {"web": self.start_web, "worker": self.start_worker, "beat": self.start_beat}
        while not self.stopping.wait(0.5):
            for role, start in starters.items():
                process = getattr(self, role)
                if process.alive() or process.ended_on_purpose:
                    continue
                self.restarts.append(f"{process.name} (exit status {process.popen.returncode})")
                try:
                    start()
                except Exception as exc:  # tried again on the next round
                    self.restarts.append(f"{role} failed to start: {exc}")

    def start_web(self):
        self.web = support.start_gunicorn(
            "drill-web", "picky.wsgi:application", self.web_port, 2, env=self.env
        )

    def start_worker(self, name="drill-worker"):
        self.worker = support.start_celery_worker(name, "picky", 2, env=self.env)

    def start_beat(self):
        self.beat = support.Process(
            "drill-beat",
            [support.PYTHON, "-m", "celery", "-A", "picky", "beat", "--loglevel", "INFO",
             "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"],
            env=self.env,
        )  # fmt: skip
        self.beat.wait_for_log("beat: Starting", timeout=60)

    def stop(self):
        self.stopping.set()
        if self.supervisor.is_alive():
            self.supervisor.join(timeout=120)
        for process in (self.beat, self.worker, self.web):
            if process is not None:
                process.stop()
        with suppress(Exception):
            from django.db import connections

            connections.close_all()
        with suppress(Exception):
            self.redis.stop()
        with suppress(Exception):
            self.postgres.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def logs(self):
        """The tail of every process log, to explain a failed drill."""
        parts = []
        for process in (self.web, self.worker, self.beat):
            if process is not None:
                parts.append(f"--- {process.name} ({process.log_path})\n{process.log()[-4000:]}")
        return "\n".join(parts)

    # Sending webhooks ---------------------------------------------------------------

    def post(self, path, body, headers=None, timeout=10):
        """POST to gunicorn; returns (status, parsed JSON or None). Never raises for HTTP."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.web_port}{path}",
            data=body,
            headers={"Content-Type": "application/json", **(headers or {})},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                return error.code, json.loads(raw)
            except ValueError:
                return error.code, {"raw": raw[:300].decode(errors="replace")}
        except OSError as error:
            return 0, {"error": str(error)}


class RetryingSender:
    """A webhook sender that retries until it gets a 200, as real senders do.

    Each delivery carries its own X-Idempotency-Key, so a retry after a lost
    answer cannot create a second event. Records every answer it saw.
    """

    def __init__(self, cluster, connector_path, attempts=40, pause=0.25):
        self.cluster = cluster
        self.path = connector_path
        self.attempts = attempts
        self.pause = pause
        self.accepted = {}  # delivery key -> event id
        self.statuses = []
        self.seconds = []  # how long each answer took

    def deliver(self, key, payload):
        body = json.dumps(payload).encode()
        for _ in range(self.attempts):
            started = time.monotonic()
            status, answer = self.cluster.post(self.path, body, {"X-Idempotency-Key": key})
            self.seconds.append(time.monotonic() - started)
            self.statuses.append(status)
            if status == 200:
                self.accepted[key] = int(answer["event"])
                return
            time.sleep(self.pause)
        raise AssertionError(f"delivery {key} not accepted after {self.attempts} attempts")

    def send(self, count, rate, prefix, payload_of):
        """Deliver `count` webhooks at about `rate` per second."""
        started = time.monotonic()
        for n in range(count):
            pause = started + n / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            self.deliver(f"{prefix}-{n}", payload_of(n))

    def slowest_ms(self, since=0, until=None):
        return round(max(self.seconds[since:until], default=0) * 1000)

    def count(self, status):
        return sum(1 for seen in self.statuses if seen == status)
