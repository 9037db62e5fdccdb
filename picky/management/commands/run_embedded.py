"""Start the whole platform in one terminal: web server and a worker with embedded beat."""

import os
import signal
import subprocess
import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server and a Celery worker with embedded beat; Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))

    def handle(self, port, host, **options):
        base_url = f"http://{host}:{port}"
        os.environ.setdefault("PUBLIC_BASE_URL", base_url)
        call_command("setup_schedules")
        call_command("setup_demo", base_url=os.environ["PUBLIC_BASE_URL"])
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
                "--schedule", "var/celerybeat-schedule",
            ],
        ]  # fmt: skip
        children = [subprocess.Popen(cmd) for cmd in commands]
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.5)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        self.stdout.write("Picky stopped.")
