"""Start the whole platform in one terminal: web server and a worker with embedded beat."""

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from picky.demo import demo_guide, setup_demo

# How long the web server and the worker get to finish what they hold after Ctrl-C before
# they are killed: a worker's warm shutdown waits for its tasks, which redeliver if killed.
STOP_GRACE_SECONDS = 10
START_TIMEOUT_SECONDS = 30
CHILD_LABELS = ("The web server (gunicorn)", "The worker (celery)")


class Command(BaseCommand):
    help = "Run the web server and a Celery worker with embedded beat; Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))

    def handle(self, port, host, **options):
        signals = []
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda signum, frame: signals.append(signum))
        refuse_taken_port(host, port)
        base_url = f"http://{host}:{port}"
        os.environ.setdefault("PUBLIC_BASE_URL", base_url)
        call_command("setup_schedules")
        connector = setup_demo()
        if signals:
            self.stdout.write("Picky stopped.")
            return
        children = start_children(host, port)
        try:
            if wait_until_listening(host, port, children, signals):
                guide = demo_guide(connector, base_url, os.environ["PUBLIC_BASE_URL"])
                self.stdout.write(f"\nPicky is running.\n{guide}\nCtrl-C stops it.\n")
            elif not signals and all(child.poll() is None for child in children):
                raise CommandError(
                    f"The web server did not listen on {host}:{port} within "
                    f"{START_TIMEOUT_SECONDS} s; Picky stopped (its messages are above)."
                )
            while not signals and all(child.poll() is None for child in children):
                time.sleep(0.2)
            exited = [
                (label, child.returncode)
                for label, child in zip(CHILD_LABELS, children, strict=True)
                if not signals and child.poll() is not None
            ]
        finally:
            # A second Ctrl-C kills at once instead of waiting for the grace period.
            stop_process_groups(children, STOP_GRACE_SECONDS, hurry=lambda: len(signals) > 1)
        if exited:
            label, status = exited[0]
            raise CommandError(
                f"{label} exited with status {status}; Picky stopped (its messages are above)."
            )
        self.stdout.write("Picky stopped.")


def refuse_taken_port(host, port):
    """Bind as gunicorn will (SO_REUSEADDR, so a closed connection's TIME_WAIT does not
    count): a port something listens on is refused before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            taken = exc.errno == errno.EADDRINUSE
            raise CommandError(
                f"Port {port} on {host} is in use: another program, or an earlier `make run` "
                "still running, listens on it. Stop that program, or run Picky on another "
                f"port: `make run PORT={port + 1}` (or `manage.py run_embedded --port "
                f"{port + 1}`)."
                if taken
                else f"Picky cannot listen on {host}:{port}: {exc.strerror}."
            ) from exc


def start_children(host, port):
    """gunicorn and the worker, each in a process group of its own: Ctrl-C reaches this
    command only, which stops each group as a whole (a web worker whose master went first
    would hold the port)."""
    python = sys.executable
    commands = [
        [
            python, "-m", "gunicorn", "picky.wsgi:application",
            "--bind", f"{host}:{port}", "--workers", "2", "--threads", "4",
            "--access-logfile", "-",
        ],
        [
            python, "-m", "celery", "-A", "picky", "worker", "--beat",
            "--loglevel", "INFO", "--concurrency", "2",
            "--schedule", str(settings.VAR_DIR / "celerybeat-schedule"),
        ],
    ]  # fmt: skip
    return [subprocess.Popen(command, process_group=0) for command in commands]


def wait_until_listening(host, port, children, stopping):
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not stopping and time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            return False
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def stop_process_groups(children, grace_seconds, hurry=lambda: False):
    """SIGTERM each child, which stops its own processes (gunicorn its web workers, Celery
    its pool and beat), wait until every process of their groups is gone, then SIGKILL the
    groups' last processes after the grace period (or as soon as `hurry()`)."""
    for child in children:
        with suppress(ProcessLookupError):
            child.send_signal(signal.SIGTERM)
    wait_for_groups(children, grace_seconds, hurry)
    for child in children:
        if group_alive(child):
            signal_group(child, signal.SIGKILL)
    wait_for_groups(children, grace_seconds, hurry=lambda: False)
    for child in children:
        child.wait()


def wait_for_groups(children, seconds, hurry):
    deadline = time.monotonic() + seconds
    while any(group_alive(child) for child in children) and time.monotonic() < deadline:
        if hurry():
            return
        time.sleep(0.1)


def signal_group(child, signum):
    with suppress(ProcessLookupError):
        os.killpg(child.pid, signum)


def group_alive(child):
    child.poll()
    try:
        os.killpg(child.pid, 0)
    except ProcessLookupError:
        return False
    return True
