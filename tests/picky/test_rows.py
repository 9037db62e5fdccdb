"""Model rows written and read with statements built once (picky/rows.py)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from connectors.models import Connector, Event, Run, RunLog, Step
from picky.models import Project
from picky.rows import (
    ROWS_PER_INSERT,
    insert_rows,
    insert_values,
    insert_values_and_keyed_rows,
    insert_values_and_update_row,
    next_key_sql,
    select_models,
    selected_columns,
    update_row,
)


def event(connector, n):
    return Event(
        project_id=connector.project_id, connector=connector, payload={"n": n, "text": "ü"},
        method="POST", headers={"x-n": str(n)}, received_at=timezone.now(),
    )  # fmt: skip


@pytest.mark.django_db
def test_insert_rows_writes_every_field_and_sets_primary_keys_over_several_statements(connector):
    events = insert_rows(event(connector, n) for n in range(ROWS_PER_INSERT + 5))
    assert len({e.pk for e in events}) == ROWS_PER_INSERT + 5
    for e in (events[0], events[ROWS_PER_INSERT], events[-1]):
        stored = Event.objects.get(pk=e.pk)
        assert stored.payload == e.payload and stored.headers == e.headers
        assert stored.status == "queued" and stored.hop_count == 0
        assert not e._state.adding


@pytest.mark.django_db
def test_insert_rows_fills_auto_now_add_fields(connector):
    [e] = insert_rows([event(connector, 1)])
    [run] = insert_rows([Run(project_id=connector.project_id, connector=connector, event=e)])
    stored = Run.objects.get(pk=run.pk)
    assert stored.created_at is not None
    assert abs(stored.created_at - timezone.now()) < timedelta(minutes=1)
    assert stored.status == Run.Status.QUEUED and stored.context == {}


@pytest.mark.django_db
def test_update_row_sets_values_only_while_the_fence_holds(connector):
    [e] = insert_rows([event(connector, 1)])
    fenced = {"status": Event.Status.PROCESSED}
    assert update_row(Event, e.pk, fenced, where={"status": Event.Status.QUEUED}) == 1
    assert update_row(Event, e.pk, {"error": "x"}, where={"status": Event.Status.QUEUED}) == 0
    assert update_row(Event, e.pk, {"headers": {"a": ["b"]}}) == 1
    stored = Event.objects.get(pk=e.pk)
    assert (stored.status, stored.error, stored.headers) == ("processed", "", {"a": ["b"]})


@pytest.mark.django_db
def test_select_models_converts_values_and_defers_the_fields_not_selected(connector):
    [e] = insert_rows([event(connector, 7)])
    event_fields = tuple(
        f for f in Event._meta.concrete_fields if f.name in ("id", "payload", "received_at")
    )
    project_fields = tuple(Project._meta.concrete_fields)
    sql = (
        f"SELECT {selected_columns('e', event_fields)}, {selected_columns('p', project_fields)}, "
        "1 FROM connectors_event e JOIN picky_project p ON p.id = e.project_id WHERE e.id = %s"
    )
    [(loaded, project, extra)] = select_models(
        sql, [e.pk], [(Event, event_fields), (Project, project_fields)]
    )
    assert loaded.payload == {"n": 7, "text": "ü"}
    assert loaded.received_at == Event.objects.get(pk=e.pk).received_at
    assert loaded.get_deferred_fields() >= {"headers", "method"}
    assert project == Project.objects.get(pk=connector.project_id) and project.name == "Acme"
    assert extra == 1
    assert select_models(sql, [0], [(Event, event_fields), (Project, project_fields)]) == []
    assert Connector.objects.get(pk=connector.pk).events.count() == 1


@pytest.mark.django_db
def test_insert_rows_works_where_an_insert_cannot_return_keys(connector, monkeypatch):
    """SQLite before 3.35 (Django supports 3.31): one row per INSERT, keys read back."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("only SQLite before 3.35 cannot return keys (PostgreSQL always can)")
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    events = insert_rows(event(connector, n) for n in range(3))
    assert [Event.objects.get(pk=e.pk).payload["n"] for e in events] == [0, 1, 2]


@pytest.mark.django_db
def test_insert_rows_keeps_nulls_texts_and_json_of_several_rows_apart(connector):
    """Several rows go in one statement (on PostgreSQL one array per column): a column
    that is null in every row, quotes, commas, braces and JSON come back as they went."""
    [e] = insert_rows([event(connector, 1)])
    [run] = insert_rows([Run(project_id=connector.project_id, connector=connector, event=e)])
    step = Step.objects.create(connector=connector, name="First")
    texts = ['say "hi", {then} go', "", "ü\\n\n", "NULL"]
    logs = insert_rows(
        RunLog(
            run=run,
            kind=RunLog.Kind.STEP,
            step=step if n % 2 else None,
            step_position=n,
            status=RunLog.Status.RAN,
            inputs={"text": text, "n": [n, None]} if n else None,
            outputs=None,
            error=text,
            duration_ms=n / 3,
        )  # fmt: skip
        for n, text in enumerate(texts)
    )
    stored = {log.pk: log for log in RunLog.objects.filter(run=run)}
    assert [stored[log.pk].error for log in logs] == texts
    assert [stored[log.pk].inputs for log in logs] == [
        None,
        *({"text": text, "n": [n, None]} for n, text in enumerate(texts) if n),
    ]
    assert [stored[log.pk].step_id for log in logs] == [None, step.pk, None, step.pk]
    assert all(stored[log.pk].action_id is None and stored[log.pk].outputs is None for log in logs)
    assert [stored[log.pk].duration_ms for log in logs] == pytest.approx([0, 1 / 3, 2 / 3, 1])


@pytest.mark.django_db
def test_insert_values_and_update_row_writes_both_and_tells_whether_the_fence_held(connector):
    [e] = insert_rows([event(connector, 1)])
    [run] = insert_rows([Run(project_id=connector.project_id, connector=connector, event=e)])

    def lines(*texts):
        return [{"run_id": run.pk, "kind": "step", "status": "ran", "error": t} for t in texts]

    fence = {"status": Run.Status.QUEUED}
    ended = {"status": Run.Status.SUCCEEDED}
    assert insert_values_and_update_row(RunLog, lines("one", "two"), Run, run.pk, ended, fence) == 1
    assert list(RunLog.objects.values_list("error", flat=True)) == ["one", "two"]
    assert Run.objects.get(pk=run.pk).status == Run.Status.SUCCEEDED
    # The fence no longer holds: the lines are written, the row is left alone.
    assert insert_values_and_update_row(RunLog, lines("x"), Run, run.pk, {"error": "x"}, fence) == 0
    assert RunLog.objects.filter(error="x").count() == 1
    assert Run.objects.get(pk=run.pk).error == ""
    assert insert_values_and_update_row(RunLog, [], Run, run.pk, {"error": "y"}) == 1
    assert Run.objects.get(pk=run.pk).error == "y"


@pytest.mark.django_db
def test_insert_values_prepares_values_and_fills_defaults_as_a_new_instance_would(connector):
    [e] = insert_rows([event(connector, 1)])
    step = Step.objects.create(connector=connector, name="First")
    before = timezone.now()
    [run_id] = insert_values(Run, [{"project_id": connector.project_id,
                                    "connector_id": connector.pk, "event_id": e.pk}])  # fmt: skip
    run = Run.objects.get(pk=run_id)
    # Defaults: a choice, a callable (a fresh dict per row), auto_now_add.
    assert run.status == Run.Status.QUEUED and run.context == {} and run.created_at >= before
    keys = insert_values(
        RunLog,
        [
            {"run_id": run_id, "kind": RunLog.Kind.ACTION, "step_id": step.pk,
             "status": RunLog.Status.RAN, "inputs": {"a": [1, None]}, "duration_ms": 2,
             "iteration": True, "error": "é"},
            {"run_id": run_id, "kind": "step", "status": "skipped", "outputs": None,
             "duration_ms": 0.25, "iteration": None},
        ],
    )  # fmt: skip
    first, second = (RunLog.objects.get(pk=key) for key in keys)
    assert (first.kind, first.status, first.step_id, first.inputs) == (
        "action",
        "ran",
        step.pk,
        {"a": [1, None]},
    )
    assert (first.duration_ms, first.iteration, first.error) == (2.0, 1, "é")
    assert (second.kind, second.status, second.outputs, second.duration_ms) == (
        "step",
        "skipped",
        None,
        0.25,
    )
    assert second.step_position == 0 and second.action_type == "" and second.created_at


@pytest.mark.django_db
def test_insert_values_keeps_text_dates_and_nested_json_exactly_in_order(connector):
    [e] = insert_rows([event(connector, 1)])
    [run_id] = insert_values(Run, [{"project_id": connector.project_id,
                                    "connector_id": connector.pk, "event_id": e.pk}])  # fmt: skip
    at = timezone.now() - timedelta(days=3, microseconds=7)
    texts = ['quote " and \\ backslash', "tab\tnew\nline", "emoji 🎉 and ü", "", "null"]
    keys = insert_values(
        RunLog,
        [
            {"run_id": run_id, "kind": "step", "status": "ran", "error": text,
             "inputs": {"text": text, "list": [text, 1.5, False]}, "created_at": at}
            for text in texts
        ],
    )  # fmt: skip
    stored = [RunLog.objects.get(pk=key) for key in keys]
    assert [line.error for line in stored] == texts
    assert [line.inputs for line in stored] == [
        {"text": text, "list": [text, 1.5, False]} for text in texts
    ]
    assert {line.created_at for line in stored} == {at}


def reserved_run_key():
    """A key for a run written later: from the sequence on PostgreSQL, past the last
    key elsewhere (nothing else writes runs in the test)."""
    if connection.vendor != "postgresql":
        return (Run.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {next_key_sql(Run)}")
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.parametrize("lines", [0, 2])
def test_insert_values_and_keyed_rows_writes_each_row_under_its_key_with_the_lines(
    connector, lines
):
    events = insert_rows([event(connector, 1), event(connector, 2)])
    first = reserved_run_key()
    keys = [first, reserved_run_key() if connection.vendor == "postgresql" else first + 1]
    started = timezone.now() - timedelta(seconds=5)
    rows = [
        {"run_id": key, "kind": "step", "status": "ran", "error": f"{key} line {n}"}
        for key in keys
        for n in range(lines)
    ]
    keyed_rows = [
        (key, {"project_id": connector.project_id, "connector_id": connector.pk,
               "event_id": e.pk, "status": Run.Status.SUCCEEDED,
               "context": {"vars": {"v": f"ü {n}"}}, "created_at": started})
        for n, (key, e) in enumerate(zip(keys, events, strict=True))
    ]  # fmt: skip
    insert_values_and_keyed_rows(RunLog, rows, Run, keyed_rows)
    for n, (key, e) in enumerate(zip(keys, events, strict=True)):
        stored = Run.objects.get(pk=key)
        assert (stored.event_id, stored.status, stored.context, stored.created_at) == (
            e.pk, "succeeded", {"vars": {"v": f"ü {n}"}}, started
        )  # fmt: skip
        assert (stored.attempts, stored.error, stored.next_step) == (0, "", 0)  # the defaults
        assert list(RunLog.objects.filter(run_id=key).values_list("error", flat=True)) == [
            f"{key} line {n}" for n in range(lines)
        ]
