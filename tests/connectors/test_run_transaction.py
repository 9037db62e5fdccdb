"""A run's database work commits as one transaction (connectors/engine/transaction.py)."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from psycopg.errors import DeadlockDetected

from actions.registry import get_type
from connectors import engine, runs, services
from connectors.engine import process
from connectors.models import Counter, Event, Run, RunLog
from crm.models import Contact, Tag
from tests.builders import build_connector


def ingest(connector, payload=None):
    return services.record_event(
        connector, payload or {}, method="POST", headers={}, source_ip="127.0.0.1"
    )


def fail_set_variable_with(monkeypatch, error):
    def run(self, ctx, inputs):
        raise error

    monkeypatch.setattr(type(get_type("set_variable")), "run", run)


def counter_then_variable(project):
    return build_connector(
        project,
        steps=[{"actions": [("trigger_counter", {"name": "n"}),
                            ("set_variable", {"name": "v", "value": "x"})]}],
    )  # fmt: skip


def tag_then_variable(project):
    return build_connector(
        project,
        field_mapping={"number": "{{ event.phone }}"},
        steps=[{"actions": [("add_tag", {"tags": ["lead"]}),
                            ("set_variable", {"name": "v", "value": "x"})]}],
    )  # fmt: skip


LEAD = {"phone": "+919847000001"}


def commits(queries):
    return sum(1 for query in queries if query["sql"].upper().startswith("COMMIT"))


@pytest.mark.django_db(transaction=True)
def test_a_worker_losing_the_database_mid_run_leaves_nothing_behind(project, monkeypatch):
    connector = tag_then_variable(project)
    event = ingest(connector, LEAD)
    fail_set_variable_with(monkeypatch, OperationalError("server closed the connection"))
    with pytest.raises(OperationalError):
        engine.process_event(event.pk)
    # The contact, its tag, the run and its log lines went with the transaction: the
    # event is still queued for the sweep, and its next run does it all once.
    assert not Contact.objects.exists() and not Tag.objects.exists()
    assert not Run.objects.exists() and not RunLog.objects.exists()
    assert Event.objects.get(pk=event.pk).status == Event.Status.QUEUED
    monkeypatch.undo()
    run = engine.process_event(event.pk)
    assert Run.objects.get(pk=run.pk).status == Run.Status.SUCCEEDED
    assert list(Contact.objects.get().tags.values_list("name", flat=True)) == ["lead"]


@pytest.mark.django_db(transaction=True)
def test_a_database_error_in_an_action_undoes_the_runs_work_and_fails_the_run(project, monkeypatch):
    connector = tag_then_variable(project)
    event = ingest(connector, LEAD)
    fail_set_variable_with(monkeypatch, IntegrityError("duplicate key value"))
    run = engine.process_event(event.pk)
    run = Run.objects.get(pk=run.pk)
    assert run.status == Run.Status.FAILED
    assert "IntegrityError: duplicate key value" in run.error
    assert "database work since its last commit was undone" in run.error
    # The tag is undone with the log line that said it was added.
    assert not Tag.objects.exists() and run.contact is None
    assert not RunLog.objects.filter(run=run).exists()
    assert Event.objects.get(pk=event.pk).status == Event.Status.PROCESSED


@pytest.mark.django_db(transaction=True)
def test_a_run_of_database_actions_commits_once(project):
    connector = tag_then_variable(project)
    engine.process_event(ingest(connector, LEAD).pk)
    event = ingest(connector, {"phone": "+919847000002"})
    with CaptureQueriesContext(connection) as queries:
        run = engine.process_event(event.pk)
    assert commits(queries) == 1
    run = Run.objects.get(pk=run.pk)
    assert run.status == Run.Status.SUCCEEDED
    assert list(run.contact.tags.values_list("name", flat=True)) == ["lead"]


@pytest.mark.django_db(transaction=True)
def test_a_run_committing_once_writes_its_row_once_at_its_end(project):
    """On PostgreSQL the run's key is taken as it begins and its row INSERTed, finished,
    with its end: no UPDATE of a row with nine indexes. SQLite INSERTs it as it begins."""
    connector = tag_then_variable(project)
    engine.process_event(ingest(connector, LEAD).pk)
    with CaptureQueriesContext(connection) as queries:
        run = engine.process_event(ingest(connector, {"phone": "+919847000002"}).pk)
    sqls = [query["sql"] for query in queries]
    stored = Run.objects.get(pk=run.pk)
    assert stored.status == Run.Status.SUCCEEDED and stored.contact is not None
    assert RunLog.objects.filter(run=stored).count() == 3  # the step and its two actions
    if connection.vendor == "postgresql":
        assert [sql for sql in sqls if 'UPDATE "connectors_run"' in sql] == []
        assert len([sql for sql in sqls if 'INSERT INTO "connectors_run" ' in sql]) == 1
        assert stored.created_at == stored.started_at <= stored.finished_at
    assert Event.objects.get(pk=run.event_id).status == Event.Status.PROCESSED


def counter_read_later(project, read_by):
    """A counter whose value a later action reads, by `save_as` or through `counters`."""
    counter = {"name": "n", "save_as": "n"} if read_by == "save_as" else {"name": "n"}
    value = "{{ vars.n.value }}" if read_by == "save_as" else "{{ counters.n }}"
    return build_connector(
        project,
        steps=[{"actions": [("trigger_counter", counter),
                            ("set_variable", {"name": "v", "value": value})]}],
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("read_by", ["save_as", "counters"])
def test_a_run_commits_right_after_updating_a_counter_read_later(project, read_by):
    connector = counter_read_later(project, read_by)
    engine.process_event(ingest(connector).pk)
    with CaptureQueriesContext(connection) as queries:
        run = engine.process_event(ingest(connector).pk)
    # The counter's row stays locked for one statement, not for the rest of the run:
    # what follows its update is the INSERT of the log lines (and the run), then COMMIT.
    statements = [query["sql"].upper() for query in queries]
    after_increment = statements[
        next(i for i, sql in enumerate(statements) if "INTO CONNECTORS_COUNTER" in sql) + 1 :
    ]
    assert [sql for sql in after_increment if sql == "COMMIT" or "UPDATE" in sql][:1] == ["COMMIT"]
    assert commits(queries) == 2
    assert Counter.objects.get(name="n").value == 2
    assert Run.objects.get(pk=run.pk).context["vars"]["v"] in (2, "2")


@pytest.mark.django_db(transaction=True)
def test_a_counter_nothing_reads_is_updated_last_and_the_run_commits_once(project):
    connector = counter_then_variable(project)
    engine.process_event(ingest(connector).pk)
    with CaptureQueriesContext(connection) as queries:
        run = engine.process_event(ingest(connector).pk)
    # The increment waits for the run's end: the row is locked for the run's last
    # statement (its log lines and its end) and the COMMIT only.
    sqls = [query["sql"] for query in queries]
    increment = next(i for i, sql in enumerate(sqls) if "connectors_counter" in sql)
    assert [sql.split()[0].upper() for sql in sqls[increment + 1 :]][-1] == "COMMIT"
    assert len(sqls[increment + 1 :]) == (2 if connection.vendor == "postgresql" else 3)
    assert commits(queries) == 1
    assert Counter.objects.get(name="n").value == 2
    counted = RunLog.objects.get(run=run, action_type="trigger_counter")
    assert (counted.status, counted.outputs) == (RunLog.Status.RAN, {"name": "n", "value": 2})


@pytest.mark.django_db(transaction=True)
def test_a_long_run_commits_as_it_goes(project, settings):
    settings.PICKY_RUN_TRANSACTION_SECONDS = -1
    connector = counter_then_variable(project)
    engine.process_event(ingest(connector).pk)
    with CaptureQueriesContext(connection) as queries:
        engine.process_event(ingest(connector).pk)
    # Before the step, before each action, and at the end.
    assert commits(queries) == 4
    assert Counter.objects.get(name="n").value == 2


@pytest.mark.django_db(transaction=True)
def test_work_before_an_outside_effect_is_committed_before_it_happens(project, monkeypatch):
    connector = build_connector(
        project,
        steps=[{"actions": [("trigger_counter", {"name": "n"}),
                            ("send_email", {"to": ["a@b.co"], "subject": "s", "body": "b"})]}],
    )  # fmt: skip
    send_email = type(get_type("send_email"))
    original_run = send_email.run
    seen = {}

    def run(self, ctx, inputs):
        seen["in_transaction"] = connection.in_atomic_block
        seen["counter"] = Counter.objects.get(name="n").value
        # The run's row is written by then: a worker dying now leaves it to the sweep.
        seen["run"] = Run.objects.get(pk=ctx.run.pk).status
        return original_run(self, ctx, inputs)

    monkeypatch.setattr(send_email, "run", run)
    run_row = engine.process_event(ingest(connector).pk)
    assert seen == {"in_transaction": False, "counter": 1, "run": Run.Status.RUNNING}
    assert len(mail.outbox) == 1
    assert Run.objects.get(pk=run_row.pk).status == Run.Status.SUCCEEDED
    assert RunLog.objects.filter(run=run_row, kind=RunLog.Kind.ACTION).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_database_error_in_a_one_statement_effect_fails_the_run_and_undoes_its_work(
    project, monkeypatch
):
    """Such an effect runs without a savepoint: the error cannot be contained in it."""
    connector = build_connector(
        project,
        field_mapping={"number": "{{ event.phone }}"},
        steps=[{"actions": [("add_tag", {"tags": ["lead"]}),
                            ("trigger_counter", {"name": "n", "fallback": "continue"})]}],
    )  # fmt: skip

    def increment_twice(project, name, amount):
        Counter.objects.create(project=project, name=name)
        Counter.objects.create(project=project, name=name)

    monkeypatch.setattr(services, "increment_counter", increment_twice)
    run = engine.process_event(ingest(connector, LEAD).pk)
    run = Run.objects.get(pk=run.pk)
    assert run.status == Run.Status.FAILED
    assert "IntegrityError" in run.error and "Trigger Counter" in run.error
    assert not Counter.objects.exists() and not Tag.objects.exists()


@pytest.mark.django_db
def test_an_event_is_handed_to_its_run_when_the_run_begins(project, settings):
    """A run waiting at a delay has its event marked processed: the stuck sweep does
    not publish that event again every lease period."""
    connector = build_connector(
        project,
        steps=[{"delay": {"mode": "fixed", "amount": 3, "unit": "days"},
                "actions": [("set_variable", {"name": "v", "value": "x"})]}],
    )  # fmt: skip
    event = ingest(connector)
    run = engine.process_event(event.pk)
    assert Run.objects.get(pk=run.pk).status == Run.Status.WAITING
    assert Event.objects.get(pk=event.pk).status == Event.Status.PROCESSED
    later = timezone.now() + timedelta(seconds=settings.PICKY_RUN_LEASE_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        assert engine.sweep_stuck() == (0, 0)
    assert engine.process_event(event.pk) is None


@pytest.mark.django_db(transaction=True)
def test_losing_the_database_as_the_run_begins_leaves_no_transaction_open(project, monkeypatch):
    """Found by the PostgreSQL drill: an open transaction left behind made every later
    task of that worker process fail with "the connection is closed"."""
    connector = counter_then_variable(project)
    event = ingest(connector)

    def database_gone(event, run):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(runs, "hand_event_to_run", database_gone)
    with pytest.raises(OperationalError):
        engine.process_event(event.pk)
    assert not connection.in_atomic_block
    monkeypatch.undo()
    run = engine.process_event(event.pk)
    assert Run.objects.get(pk=run.pk).status == Run.Status.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_run_interrupted_mid_way_leaves_no_transaction_open(project, monkeypatch, settings):
    connector = counter_then_variable(project)
    run = engine.process_event(ingest(connector).pk)
    replay = engine.replay_event(Event.objects.get(pk=run.event_id))
    fail_set_variable_with(monkeypatch, KeyboardInterrupt())  # the worker is shutting down
    with pytest.raises(KeyboardInterrupt):
        engine.continue_run(replay.pk)
    assert not connection.in_atomic_block
    # The counter's increment waited for the run's commit and went with the rest; the
    # replay's lease lets the stuck-run sweep finish it later, counting once.
    assert Counter.objects.get(name="n").value == 1
    assert Run.objects.get(pk=replay.pk).status == Run.Status.RUNNING
    monkeypatch.undo()
    later = timezone.now() + timedelta(seconds=settings.PICKY_RUN_LEASE_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        engine.continue_run(replay.pk)
    assert Run.objects.get(pk=replay.pk).status == Run.Status.SUCCEEDED
    assert Counter.objects.get(name="n").value == 2


# The runs of a message (process_events) -------------------------------------------


def counter_tag_and_variable(project):
    return build_connector(
        project,
        field_mapping={"number": "{{ event.phone }}"},
        steps=[{"actions": [("trigger_counter", {"name": "n"}),
                            ("add_tag", {"tags": ["lead"]}),
                            ("set_variable", {"name": "v", "value": "{{ event.n }}"})]}],
    )  # fmt: skip


def leads(connector, count):
    return [ingest(connector, {"phone": f"+91984700{n:04d}", "n": n}) for n in range(count)]


def stored_runs(events):
    """{event id: [its runs' statuses]} and their log lines, by event."""
    runs = {event.pk: [] for event in events}
    for event_id, status in Run.objects.filter(event__in=events).values_list("event_id", "status"):
        runs[event_id].append(status)
    lines = {event.pk: RunLog.objects.filter(run__event=event).count() for event in events}
    return runs, lines


@pytest.mark.django_db(transaction=True)
def test_the_runs_of_a_message_commit_together_on_postgresql(project):
    """One transaction for the message's runs: their rows and log lines are one INSERT,
    made at the commit after their counters' updates."""
    connector = counter_tag_and_variable(project)
    engine.process_event(leads(connector, 1)[0].pk)
    events = leads(connector, 3)
    with CaptureQueriesContext(connection) as queries:
        runs = engine.process_events([event.pk for event in events])
    sqls = [query["sql"] for query in queries]
    run_inserts = [sql for sql in sqls if 'INSERT INTO "connectors_run" ' in sql]
    if connection.vendor == "postgresql":
        assert commits(queries) == 1
        assert len(run_inserts) == 1
        last_counter = max(i for i, sql in enumerate(sqls) if "connectors_counter" in sql)
        assert last_counter < sqls.index(run_inserts[0])
    else:
        assert commits(queries) == 3
    assert [run.context["vars"]["v"] for run in runs] == [0, 1, 2]
    statuses, lines = stored_runs(events)
    assert all(found == [Run.Status.SUCCEEDED] for found in statuses.values())
    assert set(lines.values()) == {4}  # the step and its three actions
    counted = RunLog.objects.filter(run__event__in=events, action_type="trigger_counter")
    assert sorted(line.outputs["value"] for line in counted) == [2, 3, 4]
    assert Counter.objects.get(name="n").value == 4
    for run in Run.objects.filter(event__in=events):
        assert run.started_at <= run.finished_at
        assert run.contact.tags.filter(name="lead").exists()
    assert set(Event.objects.values_list("status", flat=True)) == {Event.Status.PROCESSED}


@pytest.mark.django_db(transaction=True)
def test_a_counter_failing_at_a_messages_commit_runs_each_event_again_on_its_own(
    project, monkeypatch
):
    """On PostgreSQL the failed commit rolled every run of the message back: each runs
    again in a transaction of its own, and no counter counts twice. (On SQLite each run
    commits on its own: the second fails.)"""
    connector = counter_tag_and_variable(project)
    real_increment = services.increment_counter
    calls = []

    def increment_failing_once(project, name, amount):
        calls.append(name)
        if len(calls) == 2:
            raise IntegrityError("lost a race")
        return real_increment(project, name, amount)

    monkeypatch.setattr(services, "increment_counter", increment_failing_once)
    events = leads(connector, 3)
    runs = engine.process_events([event.pk for event in events])
    assert not connection.in_atomic_block
    statuses, lines = stored_runs(events)
    assert [statuses[event.pk] for event in events] == [[run.status] for run in runs]
    if connection.vendor != "postgresql":
        assert [run.status for run in runs] == [
            Run.Status.SUCCEEDED, Run.Status.FAILED, Run.Status.SUCCEEDED
        ]  # fmt: skip
        return
    assert [run.status for run in runs] == [Run.Status.SUCCEEDED] * 3
    assert set(lines.values()) == {4}
    assert Counter.objects.get(name="n").value == 3
    assert Contact.objects.count() == 3
    assert len(calls) == 2 + 3  # the message's commit stopped at the second


@pytest.mark.django_db(transaction=True)
def test_a_bug_in_one_run_of_a_message_leaves_its_event_queued_and_the_others_run(
    project, monkeypatch
):
    connector = counter_tag_and_variable(project)
    real_note = services.note_structure_change

    def note_structure_change(connector, payload):
        if payload["n"] == 1:
            raise RuntimeError("a bug after the event was handed to its run")
        return real_note(connector, payload)

    monkeypatch.setattr(process, "note_structure_change", note_structure_change)
    events = leads(connector, 3)
    runs = engine.process_events([event.pk for event in events])
    assert not connection.in_atomic_block
    assert runs[1] is None and runs[0].status == runs[2].status == Run.Status.SUCCEEDED
    statuses, lines = stored_runs(events)
    assert statuses == {
        events[0].pk: [Run.Status.SUCCEEDED], events[1].pk: [], events[2].pk: [Run.Status.SUCCEEDED]
    }  # fmt: skip
    assert Counter.objects.get(name="n").value == 2
    assert Event.objects.get(pk=events[1].pk).status == Event.Status.QUEUED
    assert Contact.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_an_outside_effect_in_a_message_commits_the_runs_ended_before_it(project, monkeypatch):
    counting = counter_tag_and_variable(project)
    mailing = build_connector(
        project,
        name="Mailing",
        steps=[{"actions": [("send_email", {"to": ["a@b.co"], "subject": "s", "body": "b"})]}],
    )
    send_email = type(get_type("send_email"))
    original_run = send_email.run
    seen = {}

    def run(self, ctx, inputs):
        seen["in_transaction"] = connection.in_atomic_block
        seen["counted"] = list(Run.objects.filter(connector=counting).values_list("status"))
        return original_run(self, ctx, inputs)

    monkeypatch.setattr(send_email, "run", run)
    first = leads(counting, 1)[0]
    mail_event = ingest(mailing, {"n": 9})
    runs = engine.process_events([first.pk, mail_event.pk])
    assert seen == {"in_transaction": False, "counted": [(Run.Status.SUCCEEDED,)]}
    assert [run.status for run in runs] == [Run.Status.SUCCEEDED] * 2
    assert len(mail.outbox) == 1
    assert Run.objects.get(pk=runs[1].pk).status == Run.Status.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_message_whose_shared_transaction_lost_a_deadlock_runs_each_event_on_its_own(
    project, monkeypatch
):
    """PostgreSQL aborts one of two transactions that wait on each other's rows: the
    message's runs were undone with it, and each runs again in a transaction of its own."""
    if connection.vendor != "postgresql":
        pytest.skip("runs share a transaction on PostgreSQL only")
    connector = counter_tag_and_variable(project)
    real_note = services.note_structure_change
    calls = []

    def note_structure_change(connector, payload):
        calls.append(payload["n"])
        if len(calls) == 2:
            raise OperationalError("deadlock detected") from DeadlockDetected("deadlock detected")
        return real_note(connector, payload)

    monkeypatch.setattr(process, "note_structure_change", note_structure_change)
    events = leads(connector, 3)
    runs = engine.process_events([event.pk for event in events])
    assert calls == [0, 1, 0, 1, 2]
    assert [run.status for run in runs] == [Run.Status.SUCCEEDED] * 3
    statuses, lines = stored_runs(events)
    assert all(found == [Run.Status.SUCCEEDED] for found in statuses.values())
    assert Counter.objects.get(name="n").value == 3
    assert not connection.in_atomic_block


@pytest.mark.django_db(transaction=True)
def test_deferred_counters_are_updated_in_one_order_whatever_the_runs_order(project, monkeypatch):
    """Two transactions that update counters "a" and "b" both lock "a" first: neither waits
    for the other in a circle."""
    connector = build_connector(
        project, steps=[{"actions": [("trigger_counter", {"name": "{{ event.first }}"}),
                                     ("trigger_counter", {"name": "{{ event.then }}"})]}],
    )  # fmt: skip
    real_increment = services.increment_counter
    updated = []

    def increment(project, name, amount):
        updated.append(name)
        return real_increment(project, name, amount)

    monkeypatch.setattr(services, "increment_counter", increment)
    events = [
        ingest(connector, {"first": "b", "then": "a"}),
        ingest(connector, {"first": "a", "then": "b"}),
    ]
    runs = engine.process_events([event.pk for event in events])
    engine.process_event(ingest(connector, {"first": "b", "then": "a"}).pk)
    assert [run.status for run in runs] == [Run.Status.SUCCEEDED] * 2
    if connection.vendor == "postgresql":
        assert updated == ["a", "a", "b", "b", "a", "b"]  # the message's runs, then one
    else:
        assert updated == ["a", "b", "a", "b", "a", "b"]  # each run on its own
    assert dict(Counter.objects.values_list("name", "value")) == {"a": 3, "b": 3}


@pytest.mark.django_db(transaction=True)
def test_two_messages_locking_the_same_contacts_in_opposite_orders_both_run(
    project, monkeypatch, caplog
):
    """A real deadlock: two workers' messages update contacts X then Y, and Y then X.
    PostgreSQL aborts one transaction; its runs go again, each on its own."""
    if connection.vendor != "postgresql":
        pytest.skip("runs share a transaction on PostgreSQL only")
    connector = build_connector(
        project,
        field_mapping={"number": "{{ event.phone }}", "name": "{{ event.name }}"},
        steps=[{"actions": [("set_variable", {"name": "v", "value": "{{ event.name }}"})]}],
    )
    x, y = "+919847000001", "+919847000002"
    for phone in (x, y):
        engine.process_event(ingest(connector, {"phone": phone, "name": "first"}).pk)
    messages = [
        [ingest(connector, {"phone": x, "name": "one"}),
         ingest(connector, {"phone": y, "name": "one, then"})],
        [ingest(connector, {"phone": y, "name": "two"}),
         ingest(connector, {"phone": x, "name": "two, then"})],
    ]  # fmt: skip
    # Each message's second run starts once both first runs hold their contact's row.
    both_first_runs_done = threading.Barrier(2, timeout=10)
    waited = set()
    real_note = services.note_structure_change

    def note_structure_change(connector, payload):
        if payload["name"].endswith("then") and threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            both_first_runs_done.wait()
        return real_note(connector, payload)

    monkeypatch.setattr(process, "note_structure_change", note_structure_change)
    results, errors = {}, []

    def work(name, events):
        try:
            results[name] = engine.process_events([event.pk for event in events])
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    with caplog.at_level("WARNING", logger="connectors.engine"):
        threads = [
            threading.Thread(target=work, args=(n, events)) for n, events in enumerate(messages)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    assert "undone together" in caplog.text  # the deadlock happened, and was survived
    all_events = [event for events in messages for event in events]
    statuses, lines = stored_runs(all_events)
    assert all(found == [Run.Status.SUCCEEDED] for found in statuses.values())
    assert [run.status for name in (0, 1) for run in results[name]] == [Run.Status.SUCCEEDED] * 4
    assert Contact.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_big_message_commits_every_ten_runs(project):
    connector = counter_tag_and_variable(project)
    events = leads(connector, engine.RUNS_PER_SHARED_COMMIT + 2)
    with CaptureQueriesContext(connection) as queries:
        runs = engine.process_events([event.pk for event in events])
    assert [run.status for run in runs] == [Run.Status.SUCCEEDED] * len(events)
    assert commits(queries) == (2 if connection.vendor == "postgresql" else len(events))
    assert Counter.objects.get(name="n").value == len(events)
