"""A real gunicorn for tests, as the Procfile runs it (gunicorn.conf.py, Picky's worker),
serving the test database, and a raw HTTP client to talk to it byte by byte.

gunicorn runs in a process of its own, which sees the test database only on
PostgreSQL, and only what the test committed: such tests use `transactional_db`.
"""

import http.client
import os
import socket
import time
from contextlib import contextmanager

import pytest
from django.conf import settings

from bench import support
from tests.workers import test_database_url

requires_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="gunicorn shares the test database only on PostgreSQL (set DATABASE_URL)",
)


@contextmanager
def running_gunicorn(**env):
    """gunicorn with one worker on a free port of 127.0.0.1; yields the port."""
    port = support.free_port()
    server = support.start_gunicorn(
        "test-web",
        "picky.wsgi:application",
        port,
        workers=1,
        env={
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "DEBUG": "false",
            # No connection outlives a request: the test database is dropped at the end.
            "CONN_MAX_AGE": "0",
            **env,
        },
    )
    try:
        yield port
    finally:
        server.stop()


def connect(port, timeout=30):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def answer(sock):
    """Read one HTTP response from `sock`: (status, headers, body)."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.headers, response.read()


def exchange(port, *pieces, pause=0.0, timeout=30):
    """Send `pieces` of a request on a new connection (`pause` seconds apart), then read
    the response: (status, headers, body, seconds from the last piece to the answer)."""
    with connect(port, timeout) as sock:
        for index, piece in enumerate(pieces):
            if index and pause:
                time.sleep(pause)
            sock.sendall(piece)
        sent = time.monotonic()
        status, headers, body = answer(sock)
        return status, headers, body, time.monotonic() - sent


def request_head(method, path, headers):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


def chunked(body, size):
    """`body` in chunked framing, `size` bytes a chunk."""
    framed = [b"%x\r\n%s\r\n" % (len(body[at : at + size]), body[at : at + size])
              for at in range(0, len(body), size)]  # fmt: skip
    return b"".join(framed) + b"0\r\n\r\n"
