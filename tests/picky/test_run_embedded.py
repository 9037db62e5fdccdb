"""`make run` (manage.py run_embedded) as a real process: Ctrl-C stops every process it
started and frees the port, a taken port is refused before any banner, and the banner's
commands work as printed.

The command runs on a SQLite file of its own (as `make run` does), migrated once for the
module, and an in-memory broker, so it shares nothing with the suite or a running Picky.
"""

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


@pytest.fixture(scope="module")
def embedded_env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("embedded")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'picky.sqlite3'}",
        "CELERY_BROKER_URL": "memory://",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PUBLIC_BASE_URL", None)
    manage(env, "migrate", "--noinput", "-v0")
    return env


def manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port):
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Embedded:
    """run_embedded in a process group of its own, as a shell runs a job: a Ctrl-C in the
    terminal is SIGINT to that whole group."""

    def __init__(self, env, port):
        self.env = env
        self.output = Path(env["DATABASE_URL"].removeprefix("sqlite:///")).with_name(
            f"run-{port}.log"
        )
        with self.output.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "run_embedded", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )

    def text(self):
        return self.output.read_text(errors="replace")

    def wait_for(self, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text())
            if found:
                return found
            assert self.process.poll() is None, f"run_embedded exited:\n{self.text()}"
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} after {timeout} s:\n{self.text()}")

    def ctrl_c(self):
        os.killpg(self.process.pid, signal.SIGINT)
        assert self.process.wait(timeout=60) == 0, self.text()
        assert self.text().rstrip().endswith("Picky stopped.")

    def kill(self):
        """After a failure: kill the command and whatever it started."""
        if self.process.poll() is None:
            for pid in [self.process.pid, *descendants(self.process.pid)]:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.wait()


def descendants(pid):
    """Every live process below `pid`, from /proc (zombies are gone but for their entry)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_ctrl_c_stops_every_process_and_frees_the_port(embedded_env):
    # Stopped at three moments: as the web server starts listening (once the banner's
    # commands are tried), once the worker is ready, and while the command sets up.
    for moment in ("listening", "worker ready", "setting up"):
        port = free_port()
        embedded = Embedded(embedded_env, port)
        try:
            if moment == "setting up":
                embedded.wait_for(r"system schedules are in place")
            else:
                embedded.wait_for(r"Ctrl-C stops it\.")
            if moment == "listening":
                try_the_banner(embedded, port)
            if moment == "worker ready":
                embedded.wait_for(r"celery@\S+ ready\.")
            started = descendants(embedded.process.pid)
            if moment != "setting up":
                assert len(started) >= 4, started  # gunicorn, its workers, celery, its pool
            embedded.ctrl_c()
        finally:
            embedded.kill()
        deadline = time.monotonic() + 5  # orphans of a killed process are reaped by init
        while any(alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in started if alive(pid)], f"{moment}:\n{embedded.text()}"
        assert port_is_free(port), moment


def try_the_banner(embedded, port):
    """The banner names the demo's project, and its commands work as printed."""
    banner = embedded.text()
    base = f"http://127.0.0.1:{port}"
    assert f"Admin:      {base}/admin/" in banner
    assert f"Teambox:    {base}/teambox/" in banner
    assert "Login:      demo / demo-picky" in banner
    assert "Project:    Demo shop (slug: demo)" in banner
    assert f"API:        {base}/api/v1/ (docs: {base}/api/docs/)" in banner

    token_command = re.search(r"\n\s+(\S+ manage\.py create_api_token .*)\n", banner)[1]
    assert " --project demo " in token_command
    raw_token = subprocess.run(
        shlex.split(token_command),
        cwd=ROOT,
        env=embedded.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    project = requests.get(
        f"{base}/api/v1/project", headers={"Authorization": f"Bearer {raw_token}"}, timeout=10
    )
    assert project.status_code == 200, project.text
    assert project.json()["slug"] == "demo"

    connector_url = re.search(r"curl -X POST (\S+) -H 'Content-Type: application/json'", banner)
    lead = requests.post(
        connector_url[1],
        data=re.search(r"-d '(.*)'", banner)[1],
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert lead.status_code == 200, lead.text
    assert lead.json()["status"] == "accepted"


def test_a_taken_port_is_refused_clearly_before_any_banner(embedded_env):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "run_embedded", "--port", str(port)],
            cwd=ROOT,
            env=embedded_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is in use" in result.stderr
    assert f"make run PORT={port + 1}" in result.stderr
    assert "Picky is running" not in result.stdout
