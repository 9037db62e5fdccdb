"""Real Celery worker processes for integration tests (PostgreSQL + Redis).

Tests marked `integration` run only with PICKY_INTEGRATION=1, which `.ci/run`
sets together with DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis).
The worker connects to the test database pytest-django created, so such
tests use `transactional_db` (their rows must be committed to be seen).
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent

requires_integration = pytest.mark.skipif(
    os.environ.get("PICKY_INTEGRATION") != "1"
    or not os.environ.get("DATABASE_URL", "").startswith("postgres")
    or not settings.CELERY_BROKER_URL.startswith("redis"),
    reason="needs PICKY_INTEGRATION=1 with PostgreSQL and a Redis broker (.ci/run sets them)",
)


def test_database_url():
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def purge_broker():
    from picky.celery import app

    with app.connection_for_write() as conn:
        app.amqp.queues["celery"].bind(conn).purge()


class Worker:
    def __init__(self, process, log_path):
        self.process = process
        self.log_path = log_path

    def log(self):
        return Path(self.log_path).read_text(errors="replace")

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.log():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log()}")
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready in {timeout}s:\n{self.log()}")

    def kill(self):
        """SIGKILL the whole worker (main process and its pool), as a crash would."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def start_worker(concurrency=2, env=None, name="w1"):
    log_fd, log_path = tempfile.mkstemp(prefix=f"picky-{name}-", suffix=".log")
    worker_env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "PICKY_RUN_LEASE_SECONDS": str(settings.PICKY_RUN_LEASE_SECONDS),
        # A short lease takes a short outbound cap (picky/time_limits.py).
        "PICKY_OUTBOUND_TIMEOUT_CAP_SECONDS": str(
            min(settings.PICKY_OUTBOUND_TIMEOUT_CAP_SECONDS, settings.PICKY_RUN_LEASE_SECONDS / 2)
        ),
        **(env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "picky", "worker",
            "--concurrency", str(concurrency), "--hostname", f"{name}@%h",
            "--without-gossip", "--without-mingle", "--loglevel", "INFO",
        ],
        cwd=ROOT,
        env=worker_env,
        stdout=log_fd,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    os.close(log_fd)
    worker = Worker(process, log_path)
    worker.wait_ready()
    return worker


@contextmanager
def running_worker(**kwargs):
    worker = start_worker(**kwargs)
    try:
        yield worker
    finally:
        worker.stop()


def wait_for(predicate, timeout=60, interval=0.2, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
