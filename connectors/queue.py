"""Handing events and runs to the workers: the connectors' tasks, published by name.

connectors/tasks.py imports the engine, and the engine (like the ingest) publishes those
tasks: naming them here (picky.dispatch.celery_task) keeps the modules free of a circle.
During a broker outage the work stays queued in the database, where the sweeps find it.
"""

from django.conf import settings

from picky.dispatch import Batcher, enqueue, enqueue_in_chunks

PROCESS_EVENT = "connectors.tasks.process_event"
PROCESS_EVENTS = "connectors.tasks.process_events"
CONTINUE_RUN = "connectors.tasks.continue_run"
CONTINUE_RUNS = "connectors.tasks.continue_runs"

# Runs resumed together (a delay sweep's batch) travel in tasks of this many: one
# publish per message costs more than a run, and 10,000 delays may come due at once.
RESUME_CHUNK = 20
# Events per message when many are handed on at once, as a web process's batcher sends them.
EVENTS_PER_MESSAGE = 100

_event_batcher = None


def enqueue_event(event_id):
    """Hand the event to a worker.

    In a process that publishes events in batches (`publish_events_in_batches`), the
    event travels with the others accepted within PICKY_EVENT_BATCH_SECONDS.
    """
    if _event_batcher is not None:
        _event_batcher.add(event_id)
        return
    enqueue(PROCESS_EVENT, event_id)


def publish_events_in_batches():
    """From now on this process publishes accepted events in batches (web processes)."""
    global _event_batcher
    if _event_batcher is None and settings.PICKY_EVENT_BATCH_SECONDS > 0:
        _event_batcher = Batcher(
            PROCESS_EVENTS, linger=settings.PICKY_EVENT_BATCH_SECONDS, max_items=EVENTS_PER_MESSAGE
        )
    return _event_batcher


def enqueue_events(event_ids):
    """Hand these events to a worker in one message."""
    enqueue(PROCESS_EVENTS, list(event_ids))


def enqueue_event_batch(event_ids):
    """Hand many events to workers at once (a batch of inbound messages' events): through
    the process's batcher when it has one, else in messages of EVENTS_PER_MESSAGE."""
    if _event_batcher is not None:
        for event_id in event_ids:
            _event_batcher.add(event_id)
        return
    enqueue_in_chunks(PROCESS_EVENTS, list(event_ids), EVENTS_PER_MESSAGE)


def enqueue_run(run_id):
    enqueue(CONTINUE_RUN, run_id)


def enqueue_runs(run_ids):
    enqueue_in_chunks(CONTINUE_RUNS, list(run_ids), RESUME_CHUNK)
