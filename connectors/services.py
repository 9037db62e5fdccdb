"""Connector service functions: recording events, auto-mapping, enqueueing."""

import logging
from contextlib import contextmanager, nullcontext
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from picky.global_variables import global_namespace
from picky.paths import attribute_paths, paths_signature, structure_signature

from . import queries
from .models import Connector, Counter, Event
from .queue import enqueue_event, enqueue_event_batch

logger = logging.getLogger(__name__)

REJECTED_BODY_KEPT_BYTES = 64 * 1024


class DuplicateDelivery(Exception):
    """The sender already delivered this idempotency key; `original` is that event."""

    def __init__(self, original):
        super().__init__(f"Duplicate of event {original.pk}")
        self.original = original


def record_event(
    connector,
    payload,
    *,
    method,
    headers,
    source_ip,
    hop_count=0,
    idempotency_key="",
):
    """Store an accepted event and enqueue its processing once committed.

    Raises DuplicateDelivery when `idempotency_key` was already accepted for
    this connector: the partial unique constraint refuses the INSERT, so
    deliveries without a key cost no extra query.
    """
    now = timezone.now()
    event = Event(
        project_id=connector.project_id,
        connector=connector,
        payload=payload,
        method=method,
        headers=headers,
        source_ip=source_ip,
        received_at=now,
        enqueued_at=now,
        hop_count=hop_count,
        idempotency_key=idempotency_key,
    )
    with duplicates_refused(idempotency_key, connector_id=connector.pk):
        queries.insert_event(event)
    event_recorded(connector, event.pk, payload)
    return event


def record_keyed_events(connectors, keyed_payloads, *, method, hop_count=0):
    """Store an event of each connector for each (idempotency key, payload) of
    `keyed_payloads`, in bulk, and hand them to workers once committed; a key that an
    event of the connector holds already records nothing. Returns the new events' ids.
    `hop_count`: the events' (a record changed by a run starts them one hop further).

    `connectors` as `connector_for_ingest` loads them (with `has_sample`): the first
    payload of a connector without a sample becomes its sample."""
    now = timezone.now()
    rows = [
        {
            "project_id": connector.project_id,
            "connector_id": connector.pk,
            "payload": payload,
            "method": method,
            "headers": {},
            "source_ip": None,
            "received_at": now,
            "enqueued_at": now,
            "idempotency_key": key,
            "hop_count": hop_count,
        }
        for key, payload in keyed_payloads
        for connector in connectors
    ]
    payloads = dict(keyed_payloads)
    by_id = {connector.pk: connector for connector in connectors}
    event_ids = []
    for event_id, connector_id, key in sorted(queries.insert_new_events(rows)):
        connector = by_id[connector_id]
        if not has_sample(connector):
            map_first_sample(connector, payloads[key])
            # Mapped now, or by a parallel first event: not tried again for each event.
            connector.has_sample = True
        event_ids.append(event_id)
    if event_ids:
        transaction.on_commit(partial(enqueue_event_batch, event_ids))
    return event_ids


def event_recorded(connector, event_id, payload):
    """What follows an event's INSERT: the first payload becomes the connector's sample,
    and the event goes to a worker once committed."""
    if not has_sample(connector):
        map_first_sample(connector, payload)
    transaction.on_commit(lambda: enqueue_event(event_id))


@contextmanager
def duplicates_refused(idempotency_key, **connector_lookup):
    """Turn the unique constraint's refusal of a repeated idempotency key into
    DuplicateDelivery naming the original event."""
    if not idempotency_key:
        yield  # no key, no constraint to break
        return
    try:
        # A savepoint keeps the caller's transaction usable after a duplicate; in
        # autocommit (the ingest view) a refused INSERT leaves nothing to roll back.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            yield
    except IntegrityError:
        original = Event.objects.filter(idempotency_key=idempotency_key, **connector_lookup).first()
        if original is None:
            raise
        raise DuplicateDelivery(original) from None


def connector_for_ingest(token):
    """The connector with this URL token, or None: only what the ingest needs of it, and
    `has_sample`, whether it has its sample."""
    return queries.connector_for_ingest(token)


def accept_event(token, payload, *, method, headers, source_ip, idempotency_key=""):
    """The ingest's hot path: store `payload` as an event of the connector with this URL
    token, when that connector exists and is enabled, as `record_event` does.

    Returns (connector, the event's id): (None, None) when no connector has this
    token, (connector, None) when it is disabled. On PostgreSQL the connector is looked up
    and the event INSERTed in one statement: one round trip per webhook.
    """
    now = timezone.now()
    row = {"payload": payload, "received_at": now, "enqueued_at": now,
           "idempotency_key": idempotency_key, "method": method, "headers": headers,
           "source_ip": source_ip}  # fmt: skip
    with duplicates_refused(idempotency_key, connector__token=token):
        found = queries.insert_event_for_token(token, row)
    if found is None:
        return None, None
    connector, event_id = found
    if event_id is not None:
        event_recorded(connector, event_id, payload)
    return connector, event_id


def record_rejected_event(connector, *, method, headers, source_ip, raw_body, reason):
    """Keep what a sender sent even when it is refused, so the user can see why."""
    return Event.objects.create(
        project_id=connector.project_id,
        connector=connector,
        payload=None,
        # PostgreSQL text cannot hold NUL; this copy is for reading, not for parsing.
        raw_body=raw_body[:REJECTED_BODY_KEPT_BYTES].replace("\x00", "\ufffd"),
        method=method,
        headers=headers,
        source_ip=source_ip,
        received_at=timezone.now(),
        status=Event.Status.REJECTED,
        error=reason,
    )


def has_sample(connector):
    """Whether the connector has its sample; the ingest view loads `has_sample` instead
    of the sample itself (up to a megabyte of JSON to parse on every request)."""
    if "has_sample" in connector.__dict__:
        return connector.has_sample
    return connector.sample_payload is not None


def map_first_sample(connector, payload):
    """The first payload becomes the sample; concurrent first events map only once."""
    paths = attribute_paths(payload)
    signature = paths_signature(paths)
    updated = Connector.objects.filter(pk=connector.pk, sample_payload__isnull=True).update(
        sample_payload=payload, mapped_paths=paths, sample_signature=signature,
        structure_changed=False,
    )  # fmt: skip
    if updated:
        connector.sample_payload = payload
        connector.mapped_paths = paths
        connector.sample_signature = signature
        connector.has_sample = True


def note_structure_change(connector, payload):
    """Flag the connector when a payload's structure differs from its sample.

    Compares digests, so the worker never loads the sample itself (up to 1 MiB).
    """
    if not connector.sample_signature or connector.structure_changed:
        return
    if structure_signature(payload) != connector.sample_signature:
        Connector.objects.filter(pk=connector.pk).update(structure_changed=True)
        connector.structure_changed = True


def remap_from_event(event):
    """Make `event`'s payload the connector's sample and re-map its paths."""
    connector = event.connector
    connector.sample_payload = event.payload
    connector.mapped_paths = attribute_paths(event.payload or {})
    connector.sample_signature = paths_signature(connector.mapped_paths)
    connector.structure_changed = False
    connector.save(
        update_fields=["sample_payload", "mapped_paths", "sample_signature", "structure_changed"]
    )
    return connector


def route_event(connector, payload, hop_count):
    """Re-ingest `payload` into `connector` (route_connector), one hop further."""
    return record_event(
        connector,
        payload,
        method="ROUTE",
        headers={},
        source_ip=None,
        hop_count=hop_count,
    )


def connector_by_name(project, name):
    return Connector.objects.filter(project=project, name=name).first()


def increment_counter(project, name, amount=1):
    """Add `amount` to a named counter atomically; returns the value this call produced."""
    return queries.increment_counter(project.pk, name, amount)


def reset_counter(project, name, value=0):
    Counter.objects.update_or_create(project=project, name=name, defaults={"value": value})
    return value


def context_namespaces(event, run_id=None, saved_vars=None):
    """The namespaces templates read, for `event` (saved or not) of its connector."""
    connector = event.connector
    now = timezone.now().astimezone(connector.project.tzinfo)
    return {
        "event": event.payload or {},
        "meta": {
            "connector": connector.name,
            "connector_id": connector.pk,
            "project": connector.project.slug,
            "event_id": event.pk,
            "run_id": run_id,
            "received_at": (event.received_at or now).isoformat(),
            "hop_count": event.hop_count,
            "method": event.method,
        },
        "vars": dict(saved_vars or {}),
        "contact": {},
        "counters": {},
        "globals": global_namespace(connector.project),
        "storage": {},
        "now": {
            "iso": now.isoformat(),
            "date": now.date().isoformat(),
            "time": now.strftime("%H:%M"),
            "timestamp": int(now.timestamp()),
        },
    }
