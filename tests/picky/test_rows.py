"""Model rows written and read with statements built once (picky/rows.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.models import Connector, Event, Run, RunLog, Step
from picky.models import Project
from picky.rows import (
    ROWS_PER_INSERT,
    insert_rows,
    insert_rows_and_update_row,
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
def test_insert_rows_and_update_row_writes_both_and_tells_whether_the_fence_held(connector):
    [e] = insert_rows([event(connector, 1)])
    [run] = insert_rows([Run(project_id=connector.project_id, connector=connector, event=e)])

    def lines(*texts):
        return [
            RunLog(run=run, kind=RunLog.Kind.STEP, status=RunLog.Status.RAN, error=text)
            for text in texts
        ]

    first = lines("one", "two")
    fence = {"status": Run.Status.QUEUED}
    ended = {"status": Run.Status.SUCCEEDED}
    assert insert_rows_and_update_row(first, Run, run.pk, ended, where=fence) == 1
    assert [RunLog.objects.get(pk=log.pk).error for log in first] == ["one", "two"]
    assert Run.objects.get(pk=run.pk).status == Run.Status.SUCCEEDED
    # The fence no longer holds: the lines are written, the row is left alone.
    late = lines("three")
    assert insert_rows_and_update_row(late, Run, run.pk, {"error": "x"}, where=fence) == 0
    assert RunLog.objects.get(pk=late[0].pk).error == "three"
    assert Run.objects.get(pk=run.pk).error == ""
    assert insert_rows_and_update_row([], Run, run.pk, {"error": "y"}) == 1
    assert Run.objects.get(pk=run.pk).error == "y"
