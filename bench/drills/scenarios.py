"""The fault drills. Each sends webhooks to a real gunicorn while it breaks a real
process, then checks that every accepted event was run exactly once.

"Exactly once" is counted, not assumed: the drill connector increments a
counter per event and item (`items:<event id>`) and one when the run ends
(`done:<event id>`); an event run twice, or half run, shows in those counters
and in the run's log lines.
"""

import collections
import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench import support

from .cluster import RetryingSender

ITEMS = 30
SETTLE_TIMEOUT = 180


def drill_project():
    from picky.models import Project

    return Project.objects.get_or_create(slug="drills", defaults={"name": "Drills"})[0]


def drill_connector(name):
    from connectors import transfer

    return transfer.import_connector(
        drill_project(),
        {
            "format": "picky.connector/v1",
            "name": name,
            "enabled": True,
            "steps": [
                {
                    "name": "Count every item",
                    "iterator": {"path": "event.items", "max": 500},
                    # Read (save_as): the run commits right after each increment, so a
                    # run is seen in progress with work committed. A counter nothing
                    # reads would wait for the run's one commit at its end.
                    "actions": [
                        {
                            "type": "trigger_counter",
                            "config": {"name": "items:{{ meta.event_id }}", "save_as": "items"},
                        }
                    ],
                },
                {
                    "name": "Finish",
                    "actions": [
                        {"type": "trigger_counter", "config": {"name": "done:{{ meta.event_id }}"}}
                    ],
                },
            ],
        },
    )


def order(n):
    return {"order": n, "items": [{"sku": f"S{i}"} for i in range(ITEMS)]}


def in_background(target, *args):
    errors = []

    def run():
        try:
            target(*args)
        except BaseException as exc:  # reported by the drill, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def finish(thread, errors, timeout=SETTLE_TIMEOUT):
    thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"the sender did not finish in {timeout} s")
    if errors:
        raise errors[0]


def wait_settled(connector, expected_events, timeout=SETTLE_TIMEOUT):
    """Wait until the connector's events all have a finished run (or time runs out)."""
    from django.db import connections

    from connectors.models import Run

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            finished = Run.objects.filter(
                connector=connector, replay_of=None, status__in=Run.FINISHED
            ).count()
            if finished >= expected_events:
                return time.monotonic()
        except Exception:
            connections.close_all()  # the drill restarted the database under us
        time.sleep(0.5)
    return None


def verify(connector, accepted_ids, runs_per_event=1):
    """Every accepted event stored, run exactly once to success, nothing else.

    Returns figures about the runs (how many needed more than one attempt).
    """
    from connectors.models import Counter, Event, Run, RunLog

    accepted_ids = set(accepted_ids)
    stored = set(Event.objects.filter(connector=connector).values_list("pk", flat=True))
    missing = accepted_ids - stored
    assert not missing, (
        f"{len(missing)} accepted events are not in the database: {sorted(missing)[:5]}"
    )
    extra = stored - accepted_ids
    assert not extra, f"{len(extra)} events nobody was told about: {sorted(extra)[:5]}"
    runs = Run.objects.filter(connector=connector, replay_of=None)
    by_status = {status: runs.filter(status=status).count() for status in Run.Status.values}
    assert by_status[Run.Status.SUCCEEDED] == len(accepted_ids), (
        f"runs by status: {by_status} for {len(accepted_ids)} events; first errors: "
        f"{list(runs.exclude(status=Run.Status.SUCCEEDED).values_list('status', 'error')[:3])}"
    )
    counters = dict(
        Counter.objects.filter(project_id=connector.project_id).values_list("name", "value")
    )
    wrong = [
        (event_id, counters.get(f"items:{event_id}"), counters.get(f"done:{event_id}"))
        for event_id in accepted_ids
        if counters.get(f"items:{event_id}") != ITEMS * runs_per_event
        or counters.get(f"done:{event_id}") != runs_per_event
    ]
    assert not wrong, (
        f"{len(wrong)} events not run exactly once (event, items counted, done counted): "
        f"{wrong[:5]}; expected ({ITEMS}, 1)"
    )
    lines = RunLog.objects.filter(run__in=runs, kind="action", status="ran").count()
    expected_lines = len(accepted_ids) * (ITEMS + 1)
    assert lines == expected_lines, f"{lines} action log lines, expected {expected_lines}"
    return {
        "events": len(accepted_ids),
        "retried_runs": runs.filter(attempts__gt=1).count(),
    }


# The drills ------------------------------------------------------------------------


def worker_killed(cluster, kills=3):
    """kill -9 the Celery worker in the middle of runs, start a new one; three times."""
    from connectors.models import Run

    connector = drill_connector("Worker killed")
    sender = RetryingSender(cluster, connector.path)
    thread, errors = in_background(sender.send, 200, 40, "kill", order)
    running_at_kills = []
    for kill in range(kills):
        finished_before = Run.objects.filter(connector=connector, status=Run.Status.SUCCEEDED)
        floor = finished_before.count() + 10
        support.wait_until(
            lambda floor=floor: (
                Run.objects.filter(connector=connector, status=Run.Status.SUCCEEDED).count()
                >= floor
                and Run.objects.filter(connector=connector, status=Run.Status.RUNNING).exists()
            ),
            timeout=60,
            interval=0.05,
            message="runs to be in progress",
        )
        cluster.worker.kill()
        running_at_kills.append(
            Run.objects.filter(connector=connector, status=Run.Status.RUNNING).count()
        )
        time.sleep(0.5)
        cluster.start_worker(f"drill-worker-{kill + 2}")
    finish(thread, errors)
    wait_settled(connector, len(sender.accepted))
    figures = verify(connector, sender.accepted.values())
    assert figures["retried_runs"] >= 1, figures
    return {**figures, "kills": kills, "running_at_kills": running_at_kills}


def redis_stopped(cluster):
    """Stop Redis while webhooks keep arriving; ingest answers 200; the sweep catches up."""
    connector = drill_connector("Redis stopped")
    sender = RetryingSender(cluster, connector.path)
    thread, errors = in_background(sender.send, 150, 30, "redis", order)
    time.sleep(1.5)
    cluster.redis.stop()
    down_from = len(sender.statuses)
    time.sleep(4)
    cluster.redis.start()
    down_until = len(sender.statuses)
    finish(thread, errors)
    not_ok = [status for status in sender.statuses if status != 200]
    assert not not_ok, f"ingest answered {not_ok[:10]} while Redis was down"
    crashed = [name for name in cluster.restarts if name.startswith("drill-worker")]
    assert not crashed, f"the worker exited when Redis went away: {crashed}"
    wait_settled(connector, len(sender.accepted))
    figures = verify(connector, sender.accepted.values())
    return {
        **figures,
        "accepted_while_redis_down": down_until - down_from,
        "slowest_answer_while_down_ms": sender.slowest_ms(down_from, down_until),
        "slowest_answer_ms": sender.slowest_ms(),
    }


def postgres_restarted(cluster):
    """Restart PostgreSQL (immediate mode: a crash) during runs; runs are retried."""
    from django.db import connections

    from connectors.models import Run

    connector = drill_connector("PostgreSQL restarted")
    sender = RetryingSender(cluster, connector.path)
    thread, errors = in_background(sender.send, 120, 30, "pg", order)
    support.wait_until(
        lambda: Run.objects.filter(connector=connector, status=Run.Status.RUNNING).exists(),
        timeout=60,
        interval=0.05,
        message="runs to be in progress",
    )
    connections.close_all()
    cluster.postgres.restart("immediate")
    finish(thread, errors)
    connections.close_all()
    unexpected = sorted({status for status in sender.statuses if status not in (200, 503)})
    assert not unexpected, f"ingest answered {unexpected} around the restart (only 200/503 allowed)"
    wait_settled(connector, len(sender.accepted))
    figures = verify(connector, sender.accepted.values())
    return {**figures, "answered_503": sender.count(503)}


def duplicate_deliveries(cluster):
    """A retrying sender delivers each webhook twice: with an idempotency header the
    second is the same event; without one, two events (the documented behaviour)."""
    connector = drill_connector("Duplicates")
    keyed, unkeyed = {}, []
    for n in range(40):
        header = "X-Idempotency-Key" if n % 2 else "X-Request-Id"
        body = json.dumps(order(n)).encode()
        answers = [cluster.post(connector.path, body, {header: f"dup-{n}"}) for _ in range(2)]
        (first_status, first), (second_status, second) = answers
        assert first_status == second_status == 200, answers
        assert "duplicate" not in first and second.get("duplicate") is True, answers
        assert first["event"] == second["event"], answers
        keyed[n] = int(first["event"])
    for n in range(20):
        body = json.dumps(order(1000 + n)).encode()
        answers = [cluster.post(connector.path, body) for _ in range(2)]
        assert all(status == 200 and "duplicate" not in answer for status, answer in answers)
        assert answers[0][1]["event"] != answers[1][1]["event"], answers
        unkeyed += [int(answer["event"]) for _, answer in answers]
    accepted = list(keyed.values()) + unkeyed
    wait_settled(connector, len(accepted))
    figures = verify(connector, accepted)
    return {**figures, "keyed_deliveries": 2 * len(keyed), "unkeyed_deliveries": len(unkeyed)}


def hostile_payloads(cluster, examples=400):
    """The ingest property test's hostile requests, over real HTTP to gunicorn."""
    from hypothesis import HealthCheck, given, settings

    from connectors.models import Connector, Event
    from tests.connectors.test_ingest_fuzz import check_answer, hostile_requests

    connector = Connector.objects.create(project=drill_project(), name="Hostile")
    answered = {}

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(request=hostile_requests())
    def fire(request):
        conn = http.client.HTTPConnection("127.0.0.1", cluster.web_port, timeout=30)
        headers = dict(request.headers)
        if request.content_type is not None:
            headers["Content-Type"] = request.content_type
        try:
            conn.request(request.method, request.path(connector.token), request.body, headers)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        event_id = check_answer(response.status, body)
        answered[event_id] = response.status

    fire()
    statuses = dict(Event.objects.filter(pk__in=answered).values_list("pk", "status"))
    for event_id, status in answered.items():
        expected = ("rejected",) if status != 200 else ("queued", "processing", "processed")
        assert statuses.get(event_id) in expected, (event_id, status, statuses.get(event_id))
    return {
        "requests": examples,
        "events": len(answered),
        "accepted": sum(1 for status in answered.values() if status == 200),
        "rejected_4xx": sum(1 for status in answered.values() if status != 200),
    }


BIG_BATCH_MESSAGES = 12_000


def drill_channel(name):
    from teambox.models import Channel

    return Channel.objects.create(
        project=drill_project(),
        name=name,
        kind=Channel.Kind.PUSH_API,
        credentials={"url": "https://push.example.com/api", "token": "drill", "application": "1"},
    )


def big_batch_body(n, senders=3000):
    """A push_api webhook of BIG_BATCH_MESSAGES messages (about 0.9 MB) from `senders`
    numbers, its message ids its own."""
    items = [
        {"number": f"9198470{i % senders:05d}", "message": f"Order {i}", "msg_id": f"b{n}-{i}"}
        for i in range(BIG_BATCH_MESSAGES)
    ]
    for i, item in enumerate(items[:senders]):
        item["name"] = f"Sender {i}"
    return json.dumps({"data": items}).encode()


def big_batch(cluster, batches=3, killed_batch=1):
    """Channel webhooks of 12,000 messages each: each answered within a second, every
    message stored exactly once; the worker is killed -9 in the middle of one batch."""
    from teambox.models import InboundDelivery, Message

    channel = drill_channel("Big batches")
    for n in range(4):  # each web worker's first request loads what a request needs
        one = json.dumps({"number": "919847012345", "message": "Hi", "msg_id": f"w-{n}"})
        assert cluster.post(channel.webhook_path, one.encode())[0] == 200
    answer_ms, stored_after_s, attempts = [], [], []
    for n in range(batches):
        body = big_batch_body(n)
        started = time.monotonic()
        status, answer = cluster.post(channel.webhook_path, body, timeout=60)
        answered = time.monotonic() - started
        answer_ms.append(round(answered * 1000))
        assert status == 200 and answer.get("status") == "accepted", (status, answer)
        assert answer["messages"] == BIG_BATCH_MESSAGES, answer
        deliveries = InboundDelivery.objects.filter(pk=answer["delivery"])
        if n == killed_batch:
            support.wait_until(
                lambda deliveries=deliveries: deliveries.filter(status="processing").exists(),
                timeout=60,
                interval=0.05,
                message="the batch to be in processing",
            )
            time.sleep(1)  # its INSERTs under way
            cluster.worker.kill()
            cluster.start_worker(f"drill-worker-big-{n}")
        support.wait_until(
            lambda deliveries=deliveries: deliveries.filter(status__in=["done", "failed"]).exists(),
            timeout=SETTLE_TIMEOUT,
            message=f"batch {n} to be processed",
        )
        stored_after_s.append(round(time.monotonic() - started, 1))
        delivery = deliveries.get()
        assert (delivery.status, delivery.stored) == ("done", BIG_BATCH_MESSAGES), (
            delivery.status,
            delivery.stored,
            delivery.error,
        )
        attempts.append(delivery.attempts)
    sent = batches * BIG_BATCH_MESSAGES
    stored = Message.objects.filter(channel=channel, direction="in", provider_id__startswith="b")
    distinct = stored.values("provider_id").distinct().count()
    assert stored.count() == distinct == sent, (stored.count(), distinct, sent)
    assert max(answer_ms) < 1000, f"answers took {answer_ms} ms; a second at most"
    assert attempts[killed_batch] >= 2, attempts
    return {
        "batches": batches,
        "messages_per_batch": BIG_BATCH_MESSAGES,
        "body_kb": len(body) // 1024,
        "answer_ms": answer_ms,
        "stored_after_s": stored_after_s,
        "attempts": attempts,
        "stored_per_sent": round(stored.count() / sent, 4),
    }


# Chunked bodies and slow clients --------------------------------------------------

CHUNK_SIZES = (1, 7, 1000, 16 * 1024)
SLOW_CLIENTS = 50
SLOW_BYTE_SECONDS = 2
SLOW_PHASE_SECONDS = 20


def post_chunked(cluster, path, body, chunk_size):
    """POST `body` with Transfer-Encoding: chunked (no Content-Length), `chunk_size`
    bytes a chunk; returns (status, parsed JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", cluster.web_port, timeout=30)
    try:
        pieces = (body[at : at + chunk_size] for at in range(0, len(body), chunk_size))
        try:
            conn.request(
                "POST", path, pieces, {"Content-Type": "application/json"}, encode_chunked=True
            )
            response = conn.getresponse()
        except (BrokenPipeError, ConnectionResetError):
            # A body over the limit: the server answered 413 and closed while chunks were
            # still going out. Its answer is already in the socket's buffer: read it there.
            response = http.client.HTTPResponse(conn.sock)
            response.begin()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def chunked_bodies(cluster, webhooks=60, too_large=10):
    """Chunked webhooks to a connector and to a channel, in chunks of 1 byte to 16 KB:
    each under the limit answered 200 and stored intact (the events then run exactly
    once), each over it (1.5 times the limit) answered 413."""
    from django.conf import settings

    from connectors.models import Event
    from teambox.models import Channel, Message

    limit = settings.PICKY_MAX_PAYLOAD_BYTES
    connector = drill_connector("Chunked bodies")
    refusing = drill_connector("Chunked bodies over the limit")
    channel = Channel.objects.create(
        project=drill_project(), name="Chunked bodies", kind=Channel.Kind.SANDBOX
    )
    sent = {}
    for n in range(webhooks):
        payload = {**order(n), "notes": "naïve café, 10 €; " * (n * 37 % 1500)}
        body = json.dumps(payload, ensure_ascii=False).encode()
        status, answer = post_chunked(cluster, connector.path, body, CHUNK_SIZES[n % 4])
        assert status == 200, (n, status, answer)
        sent[int(answer["event"])] = payload
    stored = dict(Event.objects.filter(pk__in=sent).values_list("pk", "payload"))
    damaged = [pk for pk, payload in sent.items() if stored.get(pk) != payload]
    assert not damaged, f"{len(damaged)} chunked events not stored as sent: {damaged[:5]}"
    texts = []
    for n in range(webhooks // 2):
        text = f"Message {n}: où est ma commande ? " * (1 + n * 53 % 800)
        data = {"number": f"9198471{n:05d}", "name": f"Chunked {n}", "message": text}
        body = json.dumps(data, ensure_ascii=False).encode()
        status, answer = post_chunked(cluster, channel.webhook_path, body, CHUNK_SIZES[n % 4])
        assert status == 200, (n, status, answer)
        texts.append(text)
    stored_texts = Message.objects.filter(channel=channel, direction="in").values_list(
        "body", flat=True
    )
    assert sorted(stored_texts) == sorted(texts), "chunked channel messages not stored as sent"
    over = json.dumps({"notes": "x" * (limit + limit // 2)}).encode()
    refused = 0
    for n in range(too_large):
        for path in (refusing.path, channel.webhook_path):
            status, answer = post_chunked(cluster, path, over, CHUNK_SIZES[2 + n % 2])
            assert (status, answer.get("error")) == (413, "payload_too_large"), (status, answer)
            refused += 1
    wait_settled(connector, len(sent))
    figures = verify(connector, sent)
    return {
        **figures,
        "chunked_stored_intact": f"{len(sent)}/{len(sent)}",
        "channel_messages_intact": f"{len(texts)}/{len(texts)}",
        "over_limit_413": f"{refused}/{2 * too_large}",
    }


def slow_client(port, at_once, dripped, stop, cuts):
    """A client that sends `at_once`, then `dripped` one byte every SLOW_BYTE_SECONDS,
    on a new connection each time the server ends one, until `stop` is set. `cuts`
    gets (the server's status, or "closed", and how long the connection lasted) for
    each connection the server ended."""
    while not stop.is_set():
        opened = time.monotonic()
        ended = None
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(at_once)
            sock.settimeout(SLOW_BYTE_SECONDS)
            for byte in dripped:
                if stop.is_set():
                    break
                try:
                    sock.sendall(bytes([byte]))
                    answer = sock.recv(64)  # waits SLOW_BYTE_SECONDS before the next byte
                except TimeoutError:
                    continue
                except OSError:
                    answer = b""
                ended = answer[9:12].decode() if answer.startswith(b"HTTP/") else "closed"
                break
        if ended:
            cuts.append((ended, time.monotonic() - opened))


def slow_clients(cluster, rate=10):
    """50 clients send webhooks one byte every 2 s (half their headers, half their body
    after the headers) while normal webhooks arrive at a steady rate for 20 s, each on
    time whatever the others wait for: the normal ones are answered in under 1 s at p99
    and run exactly once; every slow connection is cut after PICKY_REQUEST_READ_SECONDS."""
    from django.conf import settings

    read_seconds = settings.PICKY_REQUEST_READ_SECONDS
    connector = drill_connector("Normal webhooks")
    slow_path = drill_connector("Slow senders").path
    body = json.dumps(order(0)).encode()
    request = (
        f"POST {slow_path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    stop, cuts = threading.Event(), []
    clients = [
        threading.Thread(target=slow_client, args=(cluster.web_port, *how, stop, cuts))
        for how in [(b"", request + body), (request, body)] * (SLOW_CLIENTS // 2)
    ]
    for client in clients:
        client.start()
    time.sleep(SLOW_BYTE_SECONDS)  # every slow client holds a connection
    seconds, statuses, accepted = [], [], []

    def deliver(n, due):
        payload = json.dumps(order(n)).encode()
        status, answer = cluster.post(connector.path, payload, {"X-Idempotency-Key": f"s-{n}"})
        seconds.append(time.monotonic() - due)
        statuses.append(status)
        if status == 200:
            accepted.append(int(answer["event"]))

    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=32) as senders:
            for n in range(SLOW_PHASE_SECONDS * rate):
                due = started + n / rate
                time.sleep(max(0.0, due - time.monotonic()))
                senders.submit(deliver, n, due)
    finally:
        stop.set()
        for client in clients:
            client.join(SLOW_BYTE_SECONDS + 30)
    p50, p99 = (round(support.percentile(seconds, q) * 1000) for q in (0.5, 0.99))
    held = max((lasted for _, lasted in cuts), default=0)
    figures = dict(
        normal_webhooks=len(statuses),
        normal_p50_ms=p50,
        normal_p99_ms=p99,
        slow_clients=SLOW_CLIENTS,
        slow_connections_cut=len(cuts),
        cut_with=dict(collections.Counter(ended for ended, _ in cuts)),
        slow_connection_held_max_s=round(held, 1),
        events_per_2xx=f"{len(accepted)}/{statuses.count(200)}",
    )
    assert statuses.count(200) == len(statuses), f"normal webhooks not accepted: {figures}"
    assert p99 < 1000, f"normal webhooks slowed down by slow clients: {figures}"
    assert len(cuts) >= SLOW_CLIENTS, f"slow connections not cut: {figures}"
    assert held < read_seconds + SLOW_BYTE_SECONDS + 2, f"slow connections held too long: {figures}"
    wait_settled(connector, len(accepted))
    return {**verify(connector, accepted), **figures}


# One tenant's pathological runs against another's latency -----------------------------

# The drill's worker stops runs after this: short, so that the drill sees many stopped.
DRILL_RUN_TIME_LIMIT = 0.5
CATASTROPHIC_TEXT = "a" * 28 + "!"  # "(a+)+$" took Python's re 22 s on this
# Each item's action reads the whole list (quadratic): about 3 minutes a run if nothing
# stopped it, with few log lines (a log line per item would be a cost of its own).
LONG_RUN_ITEMS = 20_000
B_RATE, A_REGEX_RATE, A_LONG_RATE = 10, 2, 0.25  # webhooks per second
PHASE_SECONDS = 20


def tenant_connector(slug, document):
    from connectors import transfer
    from picky.models import Project

    project = Project.objects.get_or_create(slug=slug, defaults={"name": slug})[0]
    return transfer.import_connector(project, {"format": "picky.connector/v1", **document})


def pathological_connector():
    """Project A's: a catastrophic pattern in a filter, and a long iterator over a long list."""
    return tenant_connector(
        "drills-tenant-a",
        {
            "name": "Pathological",
            "steps": [
                {
                    "name": "Catastrophic pattern",
                    "filters": [
                        [{"field": "{{ event.text }}", "op": "matches_regex", "value": "(a+)+$"}]
                    ],
                    "actions": [{"type": "set_variable", "config": {"name": "m", "value": "1"}}],
                },
                {
                    "name": "Long iterator",
                    "iterator": {"path": "event.items", "max": LONG_RUN_ITEMS},
                    "actions": [
                        {
                            "type": "set_variable",
                            "config": {"name": "top", "value": "{{ max(event.items) }}"},
                        }
                    ],
                },
            ],
        },
    )


def normal_connector():
    """Project B's: a filter, a variable and a counter, as a shop's order connector."""
    return tenant_connector(
        "drills-tenant-b",
        {
            "name": "Orders",
            "steps": [
                {
                    "name": "Count orders",
                    "filters": [[{"field": "{{ event.kind }}", "op": "equals", "value": "order"}]],
                    "actions": [
                        {"type": "set_variable", "config": {"name": "n", "value": "{{ event.n }}"}},
                        {"type": "trigger_counter", "config": {"name": "orders"}},
                    ],
                }
            ],
        },
    )


def restart_worker(cluster, name, **env):
    """The worker again, with `env` added to the cluster's (None removes a variable)."""
    cluster.worker.stop()
    for key, value in env.items():
        if value is None:
            cluster.env.pop(key, None)
        else:
            cluster.env[key] = value
    cluster.start_worker(name)


def wait_ended(event_ids, timeout=SETTLE_TIMEOUT):
    """Wait until every event's run has ended; how many have not."""
    from connectors.models import Run

    deadline = time.monotonic() + timeout
    while True:
        ended = Run.objects.filter(
            event_id__in=event_ids, replay_of=None, status__in=Run.FINISHED
        ).count()
        if ended >= len(event_ids) or time.monotonic() > deadline:
            return len(event_ids) - ended
        time.sleep(0.5)


def receipt_to_end_ms(event_ids):
    """The time from each event's receipt to its run's end, in ms (runs that ended)."""
    from django.db.models import F

    from connectors.models import Run

    return [
        round(gap.total_seconds() * 1000)
        for gap in Run.objects.filter(event_id__in=event_ids, replay_of=None)
        .exclude(finished_at=None)
        .annotate(gap=F("finished_at") - F("event__received_at"))
        .values_list("gap", flat=True)
    ]


def send_normal_events(cluster, connector, prefix):
    """B's events for PHASE_SECONDS, at B_RATE; their ids once their runs ended (or the
    settle timeout passed)."""
    sender = RetryingSender(cluster, connector.path)
    sender.send(B_RATE * PHASE_SECONDS, B_RATE, prefix, lambda n: {"kind": "order", "n": n})
    event_ids = list(sender.accepted.values())
    wait_ended(event_ids)
    return event_ids


def pathological_regex(cluster):
    """Project A sends catastrophic-pattern events and long runs while project B's events
    arrive: B's receipt-to-end p99 stays within 2 x its quiet p99 + the run time limit,
    and every run of A ends (filtered out, or stopped at the limit with its message).

    The bound: a B event waits behind at most one A run (the one before it in its
    message, or one holding a worker process), and A's runs are stopped at
    PICKY_RUN_TIME_LIMIT_SECONDS while a pattern costs microseconds on RE2; doubling the
    quiet p99 allows for the CPU and database time A's load takes from B on two cores.
    """
    from connectors.models import Run, RunLog

    a_connector, b_connector = pathological_connector(), normal_connector()
    restart_worker(
        cluster, "drill-worker-limited", PICKY_RUN_TIME_LIMIT_SECONDS=str(DRILL_RUN_TIME_LIMIT)
    )
    try:
        send_normal_events(cluster, b_connector, "b-warm")  # the worker's first runs load code
        quiet = send_normal_events(cluster, b_connector, "b-quiet")
        regex_sender = RetryingSender(cluster, a_connector.path)
        long_sender = RetryingSender(cluster, a_connector.path)
        senders = [
            in_background(
                regex_sender.send,
                A_REGEX_RATE * PHASE_SECONDS,
                A_REGEX_RATE,
                "a-regex",
                lambda n: {"text": CATASTROPHIC_TEXT, "n": n},
            ),
            in_background(
                long_sender.send,
                round(A_LONG_RATE * PHASE_SECONDS),
                A_LONG_RATE,
                "a-long",
                lambda n: {"text": "long", "items": list(range(LONG_RUN_ITEMS))},
            ),
        ]
        loaded = send_normal_events(cluster, b_connector, "b-loaded")
        for thread, errors in senders:
            finish(thread, errors)
        regex_events, long_events = regex_sender.accepted.values(), long_sender.accepted.values()
        a_not_ended = wait_ended([*regex_events, *long_events], timeout=60)
    finally:
        restart_worker(cluster, "drill-worker", PICKY_RUN_TIME_LIMIT_SECONDS=None)

    filtered = RunLog.objects.filter(
        run__event_id__in=regex_events, kind="step", step_position=0, status="skipped"
    ).count()
    limit_message = (
        f"runs may take at most {DRILL_RUN_TIME_LIMIT:g} s (PICKY_RUN_TIME_LIMIT_SECONDS)."
    )
    long_runs = Run.objects.filter(event_id__in=long_events, replay_of=None)
    stopped = long_runs.filter(status="failed", error__endswith=limit_message).count()
    a_run_ms = [
        round((started - finished).total_seconds() * -1000)
        for started, finished in Run.objects.filter(
            event_id__in=[*regex_events, *long_events], replay_of=None
        )
        .exclude(finished_at=None)
        .values_list("started_at", "finished_at")
    ]
    quiet_ms, loaded_ms = receipt_to_end_ms(quiet), receipt_to_end_ms(loaded)
    quiet_p99 = support.percentile(quiet_ms, 0.99)
    # Runs of B that did not end count as slower than any that did.
    loaded_p99 = support.percentile(
        loaded_ms + [float("inf")] * (len(loaded) - len(loaded_ms)), 0.99
    )
    bound = round(2 * quiet_p99 + DRILL_RUN_TIME_LIMIT * 1000)
    figures = {
        "b_quiet_p50_ms": support.percentile(quiet_ms, 0.5),
        "b_quiet_p99_ms": quiet_p99,
        "b_loaded_p50_ms": support.percentile(loaded_ms, 0.5),
        "b_loaded_p99_ms": loaded_p99,
        "b_p99_bound_ms": bound,
        "b_events": len(quiet) + len(loaded),
        "b_not_ended": len(quiet) + len(loaded) - len(quiet_ms) - len(loaded_ms),
        "a_catastrophic_events": len(regex_events),
        "a_filtered_out": filtered,
        "a_long_events": len(long_events),
        "a_stopped_at_limit": stopped,
        "a_longest_run_ms": max(a_run_ms, default=None),
        "a_not_ended": a_not_ended,
    }
    assert a_not_ended == 0, f"runs of A did not end: {figures}"
    assert filtered == len(regex_events), f"catastrophic events not filtered out: {figures}"
    assert stopped == len(long_events), (
        f"long runs not stopped at the limit: {figures}; "
        f"{list(long_runs.values_list('status', 'error')[:3])}"
    )
    assert loaded_p99 <= bound, f"B's p99 rose beyond the bound: {figures}"
    return figures


# slow_header: a timeout of 5 s against a server dripping a byte every 2 s, under a lease
# that outlasts the outbound deadline (picky/time_limits.py).
SLOW_HEADER_TIMEOUT = 5
SLOW_HEADER_ENV = {
    "PICKY_RUN_LEASE_SECONDS": "12",
    "PICKY_OUTBOUND_TIMEOUT_CAP_SECONDS": "6",
    "PICKY_OUTBOUND_ALLOWLIST": "127.0.0.1",
}


def slow_header_connector(server):
    from connectors import transfer

    url = server.url("/orders/") + "{{ meta.event_id }}"
    config = {"method": "POST", "url": url, "timeout": SLOW_HEADER_TIMEOUT, "fallback": "continue"}
    return transfer.import_connector(
        drill_project(),
        {
            "format": "picky.connector/v1",
            "name": "Slow header",
            "enabled": True,
            "steps": [
                {
                    "name": "Call a slow API",
                    "actions": [{"type": "http_request", "config": config}],
                }
            ],
        },
    )


def restart_web(cluster):
    """gunicorn again, with the cluster's environment as it is now."""
    cluster.web.stop()
    cluster.start_web()


def slow_header(cluster, events=8):
    """A server drips its answer's headers a byte every 2 s to HTTP Requests with a timeout of
    5 s, and the worker is killed -9 while requests are in flight: every request ends within
    its deadline, and each event's request is sent exactly once (a run taken over records its
    answer as lost and goes on instead of sending it again)."""
    from connectors.models import Run, RunLog
    from tests.raw_servers import RawServer

    previous_env = {key: cluster.env.get(key) for key in SLOW_HEADER_ENV}
    with RawServer(drip_seconds=2) as server:
        connector = slow_header_connector(server)
        running = Run.objects.filter(connector=connector, status=Run.Status.RUNNING)
        restart_worker(cluster, "drill-worker-slow-header", **SLOW_HEADER_ENV)
        # The web processes too: they publish the run tasks, with their time limits.
        restart_web(cluster)
        try:
            sender = RetryingSender(cluster, connector.path)
            thread, errors = in_background(sender.send, events, 2, "slow", lambda n: {"n": n})
            # Both worker processes wait on an answer: their requests are at the server.
            support.wait_until(
                lambda: len(server.requests) >= 2 and running.count() >= 2,
                timeout=60,
                interval=0.05,
                message="requests to be in flight",
            )
            sent_before_kill = len(server.requests)
            cluster.worker.kill()
            cluster.start_worker("drill-worker-slow-header-2")
            finish(thread, errors)
            wait_settled(connector, len(sender.accepted))
        finally:
            restart_worker(cluster, "drill-worker", **previous_env)
            restart_web(cluster)
        received = [head.split(" ")[1].rsplit("/", 1)[1] for head in server.requests]
    accepted = sorted(sender.accepted.values())
    requests_per_event = collections.Counter(received.count(str(event_id)) for event_id in accepted)
    runs = Run.objects.filter(connector=connector, replay_of=None)
    ended = runs.filter(status__in=Run.FINISHED)
    runs_ended_per_event = collections.Counter(
        ended.filter(event_id=event_id).count() for event_id in accepted
    )
    lines = RunLog.objects.filter(run__in=runs, action_type="http_request")
    timed_out = lines.filter(error__startswith=f"No answer within {SLOW_HEADER_TIMEOUT} seconds")
    longest_ms = max(timed_out.values_list("duration_ms", flat=True), default=0)
    lost = lines.filter(outputs__outcome="unknown").count()
    figures = {
        "events": len(accepted),
        "requests_per_event": dict(requests_per_event),
        "runs_ended_per_event": dict(runs_ended_per_event),
        "action_seconds_max": round(longest_ms / 1000, 2),
        "timed_out": timed_out.count(),
        "taken_over_outcome_unknown": lost,
        "requests_sent_before_kill": sent_before_kill,
    }
    assert dict(requests_per_event) == {1: len(accepted)}, f"requests per event: {figures}"
    assert dict(runs_ended_per_event) == {1: len(accepted)}, f"runs per event: {figures}"
    assert timed_out.count() + lost == len(accepted), f"outcomes: {figures}"
    assert lost >= 1, f"no run was taken over with a request in flight: {figures}"
    # Only the requests in flight at the kill are lost: the others end at their deadline.
    assert lost <= sent_before_kill, f"requests cut short besides the killed ones: {figures}"
    assert longest_ms / 1000 <= SLOW_HEADER_TIMEOUT + 1, f"a request outlasted 5 s: {figures}"
    return figures


DRILLS = {
    "worker_killed": worker_killed,
    "redis_stopped": redis_stopped,
    "postgres_restarted": postgres_restarted,
    "duplicate_deliveries": duplicate_deliveries,
    "hostile_payloads": hostile_payloads,
    "chunked_bodies": chunked_bodies,
    "slow_clients": slow_clients,
    "big_batch": big_batch,
    "pathological_regex": pathological_regex,
    "slow_header": slow_header,
}
