"""Picky's gunicorn worker (picky/gunicorn_worker.py): a request's framing as its bytes
arrive, then slow clients against a real gunicorn run with gunicorn.conf.py."""

import json
import socket
import threading
import time

import pytest

from connectors.models import Event
from picky.gunicorn_worker import IncomingRequest
from tests.servers import (
    answer,
    chunked,
    connect,
    exchange,
    request_head,
    requires_postgres,
    running_gunicorn,
)

LIMIT = 1000


def arriving(data, limit=LIMIT):
    """An IncomingRequest fed `data` a byte at a time; the index of the byte that made
    it ready (None if it never was)."""
    incoming = IncomingRequest(limit)
    for index in range(len(data)):
        incoming.add(data[index : index + 1])
        if incoming.ready:
            return index
    return None


def head(*headers, method="POST"):
    return request_head(method, "/hooks/x", headers)


def test_a_request_without_a_body_is_in_at_the_end_of_its_headers():
    data = head(method="GET")
    assert arriving(data) == len(data) - 1


def test_a_body_with_a_content_length_is_waited_for():
    data = head("Content-Length: 11") + b'{"a": "bc"}'
    assert arriving(data) == len(data) - 1


def test_a_chunked_body_is_in_after_its_last_chunk_and_trailers():
    body = chunked(b"x" * 300, 7)
    data = head("Transfer-Encoding: chunked") + body
    assert arriving(data) == len(data) - 1
    with_trailer = head("Transfer-Encoding: chunked") + body[:-2] + b"X-Checksum: 1\r\n\r\n"
    assert arriving(with_trailer) == len(with_trailer) - 1


def test_what_is_not_worth_waiting_for_goes_to_the_parser_at_once():
    over_limit = head(f"Content-Length: {LIMIT + 1}")
    assert arriving(over_limit + b"x") == len(over_limit) - 1
    chunks_over_limit = head("Transfer-Encoding: chunked") + b"%x\r\n" % (LIMIT + 1)
    assert arriving(chunks_over_limit + b"x") == len(chunks_over_limit) - 1
    for malformed in (
        head("Content-Length: 2", "Transfer-Encoding: chunked"),
        head("Content-Length: 2", "Content-Length: 2"),
        head("Content-Length: two"),
        head("Transfer-Encoding: gzip"),
    ):
        assert arriving(malformed + b"{}") == len(malformed) - 1
    bad_size = head("Transfer-Encoding: chunked") + b"zz\r\n"
    assert arriving(bad_size + b"x") == len(bad_size) - 1


def test_a_client_that_expects_100_continue_is_answered_before_its_body():
    incoming = IncomingRequest(LIMIT, head("Content-Length: 2", "Expect: 100-continue"))
    assert incoming.awaits_continue and not incoming.ready


# Through gunicorn ---------------------------------------------------------------------

READ_SECONDS = 3
THREADS = 8  # gunicorn.conf.py's


@pytest.fixture(scope="module")
def web(django_db_setup):
    with running_gunicorn(PICKY_REQUEST_READ_SECONDS=str(READ_SECONDS)) as port:
        yield port


def webhook(connector, *headers, body=b'{"name": "Asha"}'):
    return (
        request_head(
            "POST",
            connector.path,
            ["Content-Type: application/json", f"Content-Length: {len(body)}", *headers],
        )
        + body
    )


def drip(port, at_once, dripped, every, outcome):
    """Send `at_once`, then `dripped` a byte every `every` seconds until the server
    answers or closes; `outcome` gets (status or None, seconds from connecting)."""
    started = time.monotonic()
    status = None
    with connect(port) as sock:
        sock.sendall(at_once)
        sock.settimeout(every)
        for byte in dripped:
            try:
                sock.sendall(bytes([byte]))
                # Waits `every` seconds for an answer, which stays to be read.
                peeked = sock.recv(1, socket.MSG_PEEK)
            except TimeoutError:
                continue
            except OSError:
                peeked = b""
            if peeked:
                sock.settimeout(30)
                status = answer(sock)[0]
            break
    outcome.append((status, time.monotonic() - started))


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_dripping_clients_are_cut_while_a_normal_webhook_is_served(web, connector):
    """More dripping clients than the worker has threads: each is cut at the read
    deadline (a 408 without its headers, a JSON 400 with them), and meanwhile a
    normal webhook is answered well before any deadline."""
    outcome = []
    body = b'{"name": "' + b"a" * 100 + b'"}'
    slow_headers = (b"", webhook(connector, body=body))
    slow_body = (webhook(connector, body=body)[: -len(body)], body)
    drippers = [
        threading.Thread(target=drip, args=(web, *how, 0.5, outcome))
        for how in [slow_headers] * THREADS + [slow_body] * THREADS
    ]
    for dripper in drippers:
        dripper.start()
    time.sleep(1)
    status, _, body, seconds = exchange(web, webhook(connector), timeout=READ_SECONDS * 3)
    assert status == 200, body
    assert seconds < READ_SECONDS - 1
    for dripper in drippers:
        dripper.join(READ_SECONDS + 30)
    assert sorted(status for status, _ in outcome) == [400] * THREADS + [408] * THREADS
    assert max(seconds for _, seconds in outcome) < READ_SECONDS + 5
    assert Event.objects.filter(connector=connector, status=Event.Status.REJECTED).count() == (
        THREADS
    )


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_clients_that_keep_their_connection_open_stall_nobody(web, connector):
    """After an answer with "Connection: close" the server reads until the client
    closes (2 s at most); clients that stay must not hold the others up meanwhile."""
    started = time.monotonic()
    staying = [connect(web) for _ in range(THREADS)]
    try:
        for sock in staying:
            sock.sendall(webhook(connector, "Connection: close"))
        assert [answer(sock)[0] for sock in staying] == [200] * THREADS
        status, _, body, _ = exchange(web, webhook(connector))
        assert status == 200, body
        # One after the other, their lingers would take 2 s each.
        assert time.monotonic() - started < 4
    finally:
        for sock in staying:
            sock.close()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_client_expecting_100_continue_hears_it_once(web, connector):
    body = b'{"name": "Asha"}'
    with connect(web) as sock:
        sock.sendall(webhook(connector, "Expect: 100-continue", body=body)[: -len(body)])
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        status, _, answered = answer(sock)
    assert status == 200, answered
    assert Event.objects.get(pk=json.loads(answered)["event"]).payload == {"name": "Asha"}


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_requests_sent_back_to_back_on_one_connection_are_all_answered(web, connector):
    with connect(web) as sock:
        sock.sendall(
            webhook(connector, body=b'{"n": 1}')
            + webhook(connector, body=b'{"n": 2}')
            + webhook(connector, "Connection: close", body=b'{"n": 3}')
        )
        events = [json.loads(answer(sock)[2])["event"] for _ in range(3)]
    payloads = [Event.objects.get(pk=event).payload for event in events]
    assert payloads == [{"n": 1}, {"n": 2}, {"n": 3}]
