"""Shared parts of the benchmarks and the drills: services, Django setup, real
processes (gunicorn, Celery workers) and the figures they print.

Every loop here is bounded in count and time, and everything targets 127.0.0.1.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/picky_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
# Picky runs here as deployed, with DEBUG=false on PostgreSQL: it needs a key.
BENCH_SECRET_KEY = "picky-bench-key-not-secret-0123456789abcdefghijklmnop"


# Services -------------------------------------------------------------------------


def run_quiet(command, timeout=60, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)


def ensure_services():
    """Start the machine's PostgreSQL and Redis when they are not running (as .ci/run does)."""
    if run_quiet(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode != 0:
        clusters = sorted(os.listdir("/etc/postgresql"))
        run_quiet(
            ["pg_ctlcluster", "--skip-systemctl-redirect", clusters[-1], "main", "start"],
            timeout=120,
        )
        wait_until(
            lambda: (
                run_quiet(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode == 0
            ),
            timeout=30,
            message="PostgreSQL to accept connections",
        )
    if not redis_answers(6379):
        subprocess.run(
            ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379",
             "--save", "", "--appendonly", "no"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        wait_until(lambda: redis_answers(6379), timeout=30, message="Redis to answer")


def redis_answers(port):
    with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")
    return False


def create_database(url):
    """Create the PostgreSQL database named by `url` when it does not exist."""
    import environ
    import psycopg
    from psycopg import sql

    config = environ.Env.db_url_config(url)
    with psycopg.connect(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        user=config["USER"],
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        name = config["NAME"]
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django(database_url, broker_url):
    """Point this process (and the processes it starts) at the bench database and broker."""
    if not database_url.startswith("postgres"):
        sys.exit("The benchmarks run on PostgreSQL: set BENCH_DATABASE_URL=postgres://...")
    os.environ.update(
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        DJANGO_SETTINGS_MODULE="picky.settings",
        DEBUG="false",
        SECRET_KEY=os.environ.get("SECRET_KEY", BENCH_SECRET_KEY),
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    )
    create_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fresh_bench_environment():
    """Services up, Django on the bench database and broker, both emptied, and the bare
    baseline's table in place and empty."""
    ensure_services()
    setup_django(
        os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
    )
    from django.db import connection

    from bench.baseline import CREATE_TABLE, QUEUE, TABLE

    empty_database()
    purge_broker(("celery", QUEUE))
    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLE)
        cursor.execute(f"TRUNCATE {TABLE}")


def empty_database():
    """Drop every project (and so every connector, event, run, contact) of the bench database."""
    from django.db import connection

    from picky.models import Project

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Project._meta.db_table} CASCADE")


def queued_messages():
    """Messages waiting in the broker's default queue (0 when nothing was ever sent)."""
    from picky.celery import app

    with app.connection_for_write() as conn:
        try:
            declared = app.amqp.queues["celery"].bind(conn).queue_declare(passive=True)
        except conn.channel_errors:
            return 0
        return declared.message_count


def purge_broker(queues=("celery",)):
    """Drop messages left in the broker's queues (the default one) by an earlier phase."""
    from kombu import Queue

    from picky.celery import app

    with app.connection_for_write() as conn:
        for name in queues:
            Queue(name).bind(conn).purge()


# Processes ------------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout, interval=0.2, message="a condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {message}")


STARTED = []  # every Process this run started, for discard_logs()


def discard_logs():
    """Remove the log files of the processes this run started (kept when it failed)."""
    for process in STARTED:
        if not process.alive():
            Path(process.log_path).unlink(missing_ok=True)


class Process:
    """A child process in its own session, with its output in a log file."""

    def __init__(self, name, command, env=None, cwd=ROOT):
        log_fd, self.log_path = tempfile.mkstemp(prefix=f"picky-{name}-", suffix=".log")
        self.name = name
        self.popen = subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        os.close(log_fd)
        self.ended_on_purpose = False
        STARTED.append(self)

    @property
    def pid(self):
        return self.popen.pid

    def log(self):
        return Path(self.log_path).read_text(errors="replace")

    def alive(self):
        return self.popen.poll() is None

    def wait_for_log(self, text, timeout=60):
        def seen():
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early:\n{self.log()[-3000:]}")
            return text in self.log()

        wait_until(seen, timeout, message=f"{self.name} to log {text!r}")

    def kill(self):
        """SIGKILL the whole process group, as a crash would."""
        self.ended_on_purpose = True
        with suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self, timeout=30):
        self.ended_on_purpose = True
        if self.alive():
            with suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
                # A paused process acts on the SIGTERM only once it runs again.
                os.killpg(self.popen.pid, signal.SIGCONT)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def pause(self):
        """SIGSTOP the process group: it uses no CPU and takes no work until resumed."""
        os.killpg(self.popen.pid, signal.SIGSTOP)

    def resume(self):
        os.killpg(self.popen.pid, signal.SIGCONT)

    def tree(self):
        """Pids of this process and all its descendants."""
        parents = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with suppress(OSError):
                    stat = (entry / "stat").read_text()
                    parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        found, frontier = [self.pid], [self.pid]
        while frontier:
            frontier = [pid for pid, parent in parents.items() if parent in frontier]
            found += frontier
        return found

    def peak_rss_mb(self):
        """{pid: peak resident memory (VmHWM) in MB} of the process tree."""
        peaks = {}
        for pid in self.tree():
            with suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks[pid] = int(line.split()[1]) / 1024
        return peaks


def cpu_seconds(pids):
    """{pid: CPU time (user + system) used so far, in seconds} of the living processes."""
    used = {}
    for pid in pids:
        with suppress(OSError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def database_backends():
    """Pids of the PostgreSQL backends connected to this process's database (the servers
    under test and this process itself), to count what the database spent on them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


class CpuMeter:
    """CPU spent by a process tree and by the database's backends between start and stop.

    Processes (or database connections) that appear in between count from zero; one
    that ends in between is lost, so the servers keep their connections meanwhile.
    """

    def __init__(self, process):
        self.process = process

    def start(self):
        self.server_start = cpu_seconds(self.process.tree())
        self.database_start = cpu_seconds(database_backends())

    def stop(self):
        """(server seconds, database seconds) used since start."""
        return (
            used_since(self.server_start, cpu_seconds(self.process.tree())),
            used_since(self.database_start, cpu_seconds(database_backends())),
        )


def used_since(before, now):
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in now.items())


def start_gunicorn(name, application, port, workers, env=None):
    """gunicorn on 127.0.0.1 as the Procfile runs it: gunicorn.conf.py (Picky's worker,
    WEB_THREADS threads and WEB_CONNECTIONS connections a process, from `env` too) and
    `workers` processes."""
    process = Process(
        name,
        [str(BIN / "gunicorn"), application, "--config", str(ROOT / "gunicorn.conf.py"),
         "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--backlog", "2048",
         "--log-level", "warning"],
        env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"

    def answers():
        if not process.alive():
            raise RuntimeError(f"{name} exited early:\n{process.log()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=1)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    wait_until(answers, timeout=60, message=f"{name} to answer on port {port}")
    return process


def start_celery_worker(name, app, concurrency, env=None, queues="celery"):
    process = Process(
        name,
        [PYTHON, "-m", "celery", "-A", app, "worker", "--concurrency", str(concurrency),
         "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "--loglevel", "INFO", "--queues", queues],
        env=env,
    )  # fmt: skip
    process.wait_for_log("ready.", timeout=90)
    return process


def require_tool(name, hint):
    if shutil.which(name) is None:
        sys.exit(f"{name} is needed: {hint}")


# Figures --------------------------------------------------------------------------


def percentile(values, fraction):
    """The value below which `fraction` of `values` lie (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def against(value, target, higher_is_better=True):
    met = value >= target if higher_is_better else value <= target
    sign = "≥" if higher_is_better else "≤"
    return f"target {sign} {target:g}: {'met' if met else 'SHORT'}"


def result_line(name, **figures):
    """The one line a script reads: `RESULT bench=<name> key=value ...`."""
    parts = [f"bench={name}"]
    for key, value in figures.items():
        parts.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
    return "RESULT " + " ".join(parts)


def machine():
    cores = os.cpu_count()
    model = ""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{cores} cores ({model})" if model else f"{cores} cores"
