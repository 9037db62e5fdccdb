"""Production settings: no start without a real SECRET_KEY, and `check --deploy` clean with
the documented production variables. Each case starts a fresh process from a clean
environment, as an operator would."""

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from picky.local_key import local_secret_key

BASE_DIR = Path(__file__).resolve().parents[2]
REAL_KEY = "Vq3w8J1n0yQ5cTz4kLm7sX2dR9bF6hGpA1eU0iO3pW5rT8yN2mB4vC7xZ"
SCALED = {"DEBUG": "false", "DATABASE_URL": "postgres://picky@db.invalid:5432/picky"}
# README "Production": the variables of a deployment served over HTTPS behind a proxy.
PRODUCTION = {
    **SCALED,
    "SECRET_KEY": REAL_KEY,
    "ALLOWED_HOSTS": "hooks.example.com",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def fresh_process(*args, **variables):
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "picky.settings", **variables}
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )


def setting_in_a_fresh_process(name, **variables):
    code = (
        f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    )
    return fresh_process("-c", code, **variables)


@pytest.mark.parametrize(
    "args",
    [("-c", "import django; django.setup()"), ("manage.py", "check")],
)
def test_a_deployment_without_a_key_does_not_start(args):
    started = fresh_process(*args, **SCALED)
    assert started.returncode != 0
    assert (
        "SECRET_KEY is not set: set the SECRET_KEY environment variable to a long random value "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))') before starting Picky "
        "with DEBUG=false and a DATABASE_URL." in started.stderr
    )


def test_a_deployment_with_its_key_starts():
    started = setting_in_a_fresh_process("SECRET_KEY", **SCALED, SECRET_KEY=REAL_KEY)
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == REAL_KEY


def test_the_embedded_mode_keeps_a_key_of_its_own_in_var():
    started = setting_in_a_fresh_process("SECRET_KEY", DEBUG="false")
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == (BASE_DIR / "var" / "secret_key").read_text().strip()
    assert len(started.stdout.strip()) >= 50


def test_check_deploy_is_clean_with_the_production_variables():
    checked = fresh_process(
        "manage.py", "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION
    )
    assert checked.returncode == 0, checked.stderr
    assert "System check identified no issues" in checked.stdout


def test_check_deploy_names_what_a_deployment_leaves_out():
    checked = fresh_process("manage.py", "check", "--deploy", **SCALED, SECRET_KEY=REAL_KEY)
    for warning in ("W004", "W008", "W012", "W016"):
        assert f"security.{warning}" in checked.stderr


def test_the_proxy_ssl_header_is_a_header_and_a_value():
    variables = {**PRODUCTION, "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO"}
    started = setting_in_a_fresh_process("SECURE_PROXY_SSL_HEADER", **variables)
    assert started.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER must be a header and its value" in started.stderr


# The local key ---------------------------------------------------------------------------


def test_the_local_key_is_generated_once_and_kept_private(tmp_path):
    path = tmp_path / "var" / "secret_key"
    key = local_secret_key(path)
    assert len(key) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_secret_key(path) == key
    assert list(path.parent.iterdir()) == [path]


def test_processes_starting_together_keep_one_key(tmp_path):
    path = tmp_path / "secret_key"
    keys, start = [], threading.Barrier(8)

    def read_key():
        start.wait()
        keys.append(local_secret_key(path))

    threads = [threading.Thread(target=read_key) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1 and keys[0] == path.read_text().strip()
