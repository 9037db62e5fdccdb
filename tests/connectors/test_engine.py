import json
import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from actions.models import Action
from connectors import engine, services
from connectors.engine import process
from connectors.models import Counter, Event, Run, RunLog, Step
from tests.builders import build_connector
from tests.queries import statements


def ingest(connector, payload, hop_count=0):
    return services.record_event(
        connector, payload, method="POST", headers={}, source_ip="127.0.0.1", hop_count=hop_count
    )


def run_payload(connector, payload):
    event = ingest(connector, payload)
    engine.process_event(event.pk)
    return Run.objects.get(event=event, replay_of=None)


REPS = {"Kerala": "ravi@shop.example", "Goa": "gita@shop.example", "Delhi": "dev@shop.example"}
PRODUCTS = ["Solar Lamp", "Fan", "Heater", "Cooler", "Geyser"]


def lead_form_connector(project):
    route_steps = [
        {
            "name": f"Route {state} leads",
            "filters": [[{"field": "{{ event.state }}", "op": "equals", "value": state}]],
            "actions": [
                (
                    "send_email",
                    {
                        "to": [rep],
                        "subject": "New lead: {{ event.name }} ({{ event.product }})",
                        "body": "{{ event.name }} ({{ event.phone }}) wrote: {{ event.message }}",
                    },
                )
            ],
        }
        for state, rep in REPS.items()
    ]
    return build_connector(
        project,
        name="Lead form",
        field_mapping={
            "number": "{{ event.phone }}",
            "name": "{{ event.name }}",
            "email": "{{ event.email }}",
        },  # fmt: skip
        steps=[
            {
                "name": "Thank the lead",
                "actions": [
                    (
                        "send_email",
                        {
                            "to": ["{{ event.email }}"],
                            "subject": "Thanks, {{ contact.name }}",
                            "body": "We got your interest in {{ event.product }}.",
                        },
                    )
                ],
            },
            *route_steps,
            {
                "name": "Count the product",
                "actions": [("trigger_counter", {"name": "product:{{ event.product }}"})],
            },
            {"name": "Stop here", "actions": [("stop_processing", {})]},
            {
                "name": "Never reached",
                "actions": [("send_email", {"to": ["x@y.z"], "subject": "no", "body": "no"})],
            },
        ],
    )


@pytest.mark.django_db
def test_lead_form_example_end_to_end(project):
    connector = lead_form_connector(project)
    leads = [
        {"name": "Asha", "email": "asha@example.com", "phone": "+91 98470 11111",
         "state": "Kerala", "product": "Solar Lamp", "message": "Call me"},
        {"name": "Bala", "email": "bala@example.com", "phone": "+91 98470 22222",
         "state": "Goa", "product": "Fan", "message": "Price?"},
        {"name": "Chitra", "email": "chitra@example.com", "phone": "+91 98470 33333",
         "state": "Kerala", "product": "Solar Lamp", "message": "Stock?"},
    ]  # fmt: skip
    runs = [run_payload(connector, lead) for lead in leads]

    assert [r.status for r in runs] == [Run.Status.STOPPED] * 3
    sent = [(m.to, m.subject) for m in mail.outbox]
    assert sent == [
        (["asha@example.com"], "Thanks, Asha"),
        (["ravi@shop.example"], "New lead: Asha (Solar Lamp)"),
        (["bala@example.com"], "Thanks, Bala"),
        (["gita@shop.example"], "New lead: Bala (Fan)"),
        (["chitra@example.com"], "Thanks, Chitra"),
        (["ravi@shop.example"], "New lead: Chitra (Solar Lamp)"),
    ]
    counters = dict(Counter.objects.values_list("name", "value"))
    assert counters == {"product:Solar Lamp": 2, "product:Fan": 1}
    logs = RunLog.objects.filter(run=runs[1], kind=RunLog.Kind.STEP).order_by("id")
    assert [(log.step_position, log.status) for log in logs] == [
        (0, "ran"), (1, "skipped"), (2, "ran"), (3, "skipped"), (4, "ran"), (5, "stopped"),
    ]  # fmt: skip
    assert runs[0].contact.number == "919847011111"
    assert Event.objects.get(pk=runs[0].event_id).status == Event.Status.PROCESSED


@pytest.mark.django_db
def test_action_log_keeps_templated_inputs_and_outputs(project):
    connector = build_connector(
        project,
        steps=[{"actions": [("set_variable", {"name": "greeting", "value": "Hi {{ event.n }}"}),
                            ("set_variable", {"name": "items", "value": "{{ event.items }}"}),
                            ("set_variable", {"name": "echo", "value": "{{ vars.greeting }}!"})]}],
    )  # fmt: skip
    run = run_payload(connector, {"n": "Asha", "items": [1, 2]})
    assert run.status == Run.Status.SUCCEEDED
    assert run.context["vars"] == {"greeting": "Hi Asha", "items": [1, 2], "echo": "Hi Asha!"}
    first = RunLog.objects.filter(run=run, kind="action").first()
    assert first.inputs == {"name": "greeting", "value": "Hi Asha"}
    assert first.outputs == {"name": "greeting", "value": "Hi Asha"}
    assert first.duration_ms >= 0


@pytest.mark.django_db
def test_iterator_runs_actions_per_item_and_caps(project):
    connector = build_connector(
        project,
        steps=[
            {
                "iterator": {"path": "event.items", "max": 3},
                "actions": [("trigger_counter", {"name": "sku:{{ item.sku }}"}),
                            ("set_variable", {"name": "last", "value": "{{ index }}"})],
            }
        ],
    )  # fmt: skip
    run = run_payload(
        connector, {"items": [{"sku": "A"}, {"sku": "B"}, {"sku": "A"}, {"sku": "C"}]}
    )
    assert run.status == Run.Status.SUCCEEDED
    assert dict(Counter.objects.values_list("name", "value")) == {"sku:A": 2, "sku:B": 1}
    step_log = RunLog.objects.get(run=run, kind="step")
    assert step_log.error == "Iterator capped at 3 of 4 items."
    assert step_log.inputs["iterator"] == {"items": 4, "run": 3}
    assert run.context["vars"]["last"] == 2
    iterations = list(
        RunLog.objects.filter(run=run, kind="action", action_type="trigger_counter")
        .order_by("id")
        .values_list("iteration", flat=True)
    )
    assert iterations == [0, 1, 2]


@pytest.mark.django_db
@pytest.mark.parametrize("fallback, status, later_ran", [("continue", "succeeded", True),
                                                         ("stop", "failed", False)])  # fmt: skip
def test_fallback_of_a_failing_action(project, fallback, status, later_ran):
    connector = build_connector(
        project,
        steps=[
            {"actions": [("route_connector", {"connector": "Nope", "fallback": fallback})]},
            {"actions": [("set_variable", {"name": "after", "value": "yes"})]},
        ],
    )
    run = run_payload(connector, {})
    assert run.status == status
    failed = RunLog.objects.get(run=run, kind="action", status="failed")
    assert failed.error == "No connector named 'Nope' in this project."
    assert ("after" in run.context["vars"]) is later_ran
    if status == "failed":
        assert run.error == "No connector named 'Nope' in this project."


@pytest.mark.django_db
def test_unknown_action_type_fails_clearly(project):
    connector = build_connector(project, steps=[{"actions": [("no_such_type", {})]}])
    run = run_payload(connector, {})
    assert run.status == Run.Status.FAILED
    assert run.error == "Unknown action type 'no_such_type'."


@pytest.mark.django_db
def test_route_connector_stops_a_loop_at_the_tenth_hop(project):
    connector = build_connector(
        project, name="Loop", steps=[{"actions": [("route_connector", {"connector": "Loop"})]}]
    )
    event = ingest(connector, {"x": 1})
    hops = 0
    while True:
        engine.process_event(event.pk)
        run = Run.objects.get(event=event)
        if run.status != Run.Status.SUCCEEDED:
            break
        event = Event.objects.filter(connector=connector).order_by("-id").first()
        hops += 1
    assert hops == 9
    assert event.hop_count == 9
    assert run.status == Run.Status.FAILED
    assert "Routing loop" in run.error


@pytest.mark.django_db
def test_simulate_performs_no_outside_effects(project):
    connector = lead_form_connector(project)
    simulation = engine.simulate(
        connector, {"name": "Asha", "email": "a@example.com", "state": "Goa", "product": "Fan"}
    )
    assert mail.outbox == []
    assert Counter.objects.count() == 0
    assert Run.objects.count() == 0 and RunLog.objects.count() == 0
    assert simulation.status == Run.Status.STOPPED
    statuses = [(log["kind"], log["status"]) for log in simulation.logs if log["kind"] == "step"]
    assert statuses == [("step", "ran"), ("step", "skipped"), ("step", "ran"),
                        ("step", "skipped"), ("step", "ran"), ("step", "stopped")]  # fmt: skip
    first_email = simulation.logs[0]
    assert first_email["inputs"]["subject"] == "Thanks, Asha"
    assert first_email["outputs"]["simulated"] is True


@pytest.mark.django_db
def test_replay_makes_a_new_run(project, django_capture_on_commit_callbacks):
    connector = build_connector(project, steps=[{"actions": [("trigger_counter", {"name": "n"})]}])
    run = run_payload(connector, {})
    replay = engine.replay_event(run.event)
    engine.continue_run(replay.pk)
    replay.refresh_from_db()
    assert replay.replay_of == run
    assert replay.status == Run.Status.SUCCEEDED
    assert Counter.objects.get(name="n").value == 2


@pytest.mark.django_db
def test_a_rerun_does_not_repeat_outside_effects(project):
    connector = build_connector(
        project,
        steps=[{"actions": [("send_email", {"to": ["a@b.co"], "subject": "s", "body": "b"}),
                            ("trigger_counter", {"name": "n"})]}],
    )  # fmt: skip
    run = run_payload(connector, {})
    assert len(mail.outbox) == 1
    # As if the worker died after the effects: the sweep hands the run out again.
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, lease_until=None)
    engine.continue_run(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
    assert run.attempts == 2
    assert len(mail.outbox) == 1
    assert Counter.objects.get(name="n").value == 1


@pytest.mark.django_db
def test_a_running_run_with_a_live_lease_is_not_taken_twice(project):
    connector = build_connector(project, steps=[{"actions": [("trigger_counter", {"name": "n"})]}])
    event = ingest(connector, {})
    engine.process_event(event.pk)
    run = Run.objects.get(event=event)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, lease_until="2999-01-01T00:00Z")
    assert engine.continue_run(run.pk) is None
    assert engine.process_event(event.pk) is None


@pytest.mark.django_db
def test_queries_per_event_are_bounded_and_do_not_grow_with_history(project):
    connector = build_connector(
        project,
        steps=[
            {"filters": [[{"field": "{{ event.state }}", "op": "equals", "value": "Kerala"}]],
             "actions": [("set_variable", {"name": "a", "value": "{{ event.name }}"}),
                         ("trigger_counter", {"name": "leads"})]},
            {"actions": [("set_variable", {"name": "b", "value": "{{ vars.a }}"}),
                         ("set_variable", {"name": "c", "value": "{{ counters.leads }}"})]},
            {"actions": [("set_variable", {"name": "d", "value": "x"})]},
        ],
    )  # fmt: skip
    payload = {"name": "Asha", "state": "Kerala"}

    def queries_for_one():
        event = ingest(connector, payload)
        with CaptureQueriesContext(connection) as captured:
            engine.process_event(event.pk)
        assert Run.objects.get(event=event).status == Run.Status.SUCCEEDED
        return len(statements(captured))

    # A first run of another connector: the process's one-time reads (the project's global
    # variables, the run id's sequence on PostgreSQL) are not this connector's.
    warm_up = build_connector(
        project, name="Warm-up", steps=[{"actions": [("stop_processing", {})]}]
    )
    engine.process_event(ingest(warm_up, payload).pk)
    cold = queries_for_one()  # this worker loads the connector's steps (2 queries) once
    first = queries_for_one()
    for _ in range(30):
        ingest(connector, payload)
    later = queries_for_one()
    assert cold == first + 2
    assert first == later
    # The event; the run's INSERT with its event handed to it; the counter's upsert;
    # the counters read by a template; the log lines so far (the run commits after the
    # counter's upsert); the last log lines and the run's end. On PostgreSQL, the run's
    # INSERT and its event, and the last log lines and the run's end, are one statement
    # each.
    assert later == (6 if connection.vendor == "postgresql" else 8)


@pytest.mark.django_db(transaction=True)
def test_counter_increments_are_atomic_under_parallel_runs(project):
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:memory"):
        pytest.skip("in-memory SQLite is shared by threads without real concurrency")
    values = []
    lock = threading.Lock()

    def worker():
        for _ in range(20):
            value = services.increment_counter(project, "parallel")
            with lock:
                values.append(value)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(values) == list(range(1, 121))


@pytest.mark.django_db
def test_a_rejected_event_cannot_be_replayed(connector):
    event = services.record_rejected_event(
        connector, method="POST", headers={}, source_ip=None, raw_body="{", reason="Malformed"
    )
    with pytest.raises(engine.ReplayRefused, match="was rejected"):
        engine.replay_event(event)


@pytest.mark.django_db
def test_an_execution_that_lost_its_lease_stops_without_writing(project, settings):
    settings.PICKY_RUN_LEASE_SECONDS = 0  # renew (and check ownership) before every action
    connector = build_connector(project, steps=[{"actions": [("trigger_counter", {"name": "n"})]}])
    event = ingest(connector, {})
    run = Run.objects.create(
        project=project, connector=connector, event=event, status=Run.Status.RUNNING, attempts=1
    )
    # Another worker took the run over (attempt 2) while this one was slow.
    Run.objects.filter(pk=run.pk).update(attempts=2)
    engine.RunExecutor(run, event).execute()
    assert not Counter.objects.exists()
    run.refresh_from_db()
    assert (run.status, run.attempts, run.finished_at) == (Run.Status.RUNNING, 2, None)


@pytest.mark.django_db
def test_a_bad_number_in_the_field_mapping_fails_the_run_with_a_clear_error(project):
    connector = build_connector(
        project,
        field_mapping={"number": "{{ event.phone }}"},
        steps=[{"actions": [("set_variable", {"name": "a", "value": "1"})]}],
    )
    run = run_payload(connector, {"phone": "12"})
    assert run.status == Run.Status.FAILED
    assert run.error.startswith("Field mapping: ")


@pytest.mark.django_db
def test_steps_are_cached_per_revision_and_reloaded_after_an_edit(project):
    connector = build_connector(
        project, steps=[{"actions": [("set_variable", {"name": "a", "value": "one"})]}]
    )
    assert run_payload(connector, {}).context["vars"] == {"a": "one"}
    action = connector.steps.get().actions.get()
    action.config = {"name": "a", "value": "two"}
    action.save()
    assert run_payload(connector, {}).context["vars"] == {"a": "two"}
    Step.objects.create(connector=connector, position=1)
    second = connector.steps.get(position=1)
    Action.objects.create(step=second, type="set_variable", config={"name": "b", "value": "x"})
    assert run_payload(connector, {}).context["vars"] == {"a": "two", "b": "x"}
    second.delete()
    assert run_payload(connector, {}).context["vars"] == {"a": "two"}


@pytest.mark.django_db
def test_the_worker_flags_an_event_whose_structure_differs_from_the_sample(project):
    connector = build_connector(project, steps=[])
    run_payload(connector, {"name": "Asha", "items": [{"sku": "A"}]})
    run_payload(connector, {"name": "Bala", "items": [{"sku": "B"}, {"sku": "C"}]})
    connector.refresh_from_db()
    assert connector.structure_changed is False
    run_payload(connector, {"name": "Chitra", "phone": "9198"})
    connector.refresh_from_db()
    assert connector.structure_changed is True


@pytest.mark.django_db
def test_events_published_together_are_loaded_together_and_run_in_order(project):
    connector = build_connector(
        project, steps=[{"actions": [("set_variable", {"name": "n", "value": "{{ event.n }}"})]}]
    )
    events = [ingest(connector, {"n": n}) for n in range(3)]
    engine.process_event(events[1].pk)  # already done by an earlier delivery
    with CaptureQueriesContext(connection) as queries:
        runs = engine.process_events([events[0].pk, events[1].pk, events[2].pk, 0])
    assert runs[1] is None and runs[3] is None
    assert [run.context["vars"]["n"] for run in (runs[0], runs[2])] == [0, 2]
    assert [run.pk for run in runs[::2]] == sorted(run.pk for run in runs[::2])
    event_loads = [
        q for q in queries if q["sql"].startswith("SELECT") and "connectors_event" in q["sql"]
    ]
    assert len(event_loads) == 1


@pytest.mark.django_db
def test_an_event_that_cannot_be_run_does_not_hold_up_the_others_of_its_message(
    project, monkeypatch
):
    connector = build_connector(project, steps=[{"actions": [("trigger_counter", {"name": "n"})]}])
    events = [ingest(connector, {"n": n}) for n in range(3)]
    real_run_event = process.run_event

    def run_event(event, *args, **kwargs):
        if event.pk == events[1].pk:
            raise RuntimeError("a bug")
        return real_run_event(event, *args, **kwargs)

    monkeypatch.setattr(process, "run_event", run_event)
    runs = engine.process_events([event.pk for event in events])
    assert runs[1] is None and runs[0] and runs[2]
    assert Counter.objects.get(name="n").value == 2
    assert Event.objects.get(pk=events[1].pk).status == Event.Status.QUEUED


@pytest.mark.django_db(transaction=True)
def test_a_crash_after_the_run_began_undoes_it_and_the_next_event_runs_cleanly(
    project, monkeypatch
):
    connector = build_connector(project, steps=[{"actions": [("trigger_counter", {"name": "n"})]}])
    events = [ingest(connector, {"n": n}) for n in range(2)]
    real_note = services.note_structure_change
    calls = []

    def note_structure_change(connector, payload):
        calls.append(payload)
        if len(calls) == 1:
            raise RuntimeError("a bug after the run's INSERT")
        return real_note(connector, payload)

    monkeypatch.setattr(process, "note_structure_change", note_structure_change)
    runs = engine.process_events([event.pk for event in events])
    assert runs[0] is None and runs[1].status == Run.Status.SUCCEEDED
    assert not connection.in_atomic_block
    assert list(Run.objects.values_list("event_id", flat=True)) == [events[1].pk]
    assert Event.objects.get(pk=events[0].pk).status == Event.Status.QUEUED


@pytest.mark.parametrize(
    "value",
    [
        None,
        {"name": "Asha", "n": 3, "ok": True, "x": 0.5, "none": None, "list": [1, "a", {"b": []}]},
        {"at": datetime(2026, 11, 22, 9, 30, tzinfo=UTC), "amount": Decimal("12.50")},
        {"pair": (1, 2), 7: "a number key"},
        {"nan": float("nan"), "big": 10**30},
        ["lead", {"deep": [[{"x": "ü 🙂"}]]}],
    ],
)
def test_logged_values_are_what_json_text_would_give_and_copies(value):
    logged = engine.jsonable(value)
    through_json = json.loads(json.dumps(value, default=str))
    assert json.dumps(logged, sort_keys=True) == json.dumps(through_json, sort_keys=True)
    if isinstance(value, dict):
        logged["added"] = 1
        assert "added" not in value
