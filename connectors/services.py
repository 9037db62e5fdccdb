"""Connector service functions: recording events, auto-mapping, enqueueing."""

import logging

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from picky.dispatch import Batcher, enqueue
from picky.paths import attribute_paths, paths_signature, structure_signature
from picky.rows import insert_rows

from .models import Connector, Counter, Event

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
    raw_body="",
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
    if not idempotency_key:
        insert_rows([event])
    else:
        insert_keyed_event(event)
    if not has_sample(connector):
        map_first_sample(connector, payload)
    transaction.on_commit(lambda: enqueue_event(event.pk))
    return event


def insert_keyed_event(event):
    try:
        if connection.in_atomic_block:
            # A savepoint keeps the caller's transaction usable after a duplicate.
            with transaction.atomic():
                insert_rows([event])
        else:
            # Autocommit (the ingest view): a refused INSERT leaves nothing to roll back.
            insert_rows([event])
    except IntegrityError:
        original = Event.objects.filter(
            connector_id=event.connector_id, idempotency_key=event.idempotency_key
        ).first()
        if original is None:
            raise
        raise DuplicateDelivery(original) from None


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


def enqueue_event(event_id):
    """Hand the event to Celery; during a broker outage the sweep does it later.

    In a process that publishes events in batches (`publish_events_in_batches`), the
    event travels with the others accepted within PICKY_EVENT_BATCH_SECONDS.
    """
    if _event_batcher is not None:
        _event_batcher.add(event_id)
        return
    from .tasks import process_event

    enqueue(process_event, event_id)


_event_batcher = None


def publish_events_in_batches():
    """From now on this process publishes accepted events in batches (web processes)."""
    global _event_batcher
    from .tasks import process_events

    if _event_batcher is None and settings.PICKY_EVENT_BATCH_SECONDS > 0:
        _event_batcher = Batcher(process_events, linger=settings.PICKY_EVENT_BATCH_SECONDS)
    return _event_batcher


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
    from django.db import connection

    table = Counter._meta.db_table
    with connection.cursor() as cursor:
        # One statement: concurrent increments serialise on the row, and each
        # caller reads back exactly the value its own increment produced.
        cursor.execute(
            f"INSERT INTO {table} (project_id, name, value, updated_at) VALUES (%s, %s, %s, %s) "
            f"ON CONFLICT (project_id, name) DO UPDATE SET value = {table}.value + excluded.value, "
            "updated_at = excluded.updated_at RETURNING value",
            [project.pk, name, amount, timezone.now()],
        )
        return cursor.fetchone()[0]


def reset_counter(project, name, value=0):
    Counter.objects.update_or_create(project=project, name=name, defaults={"value": value})
    return value
