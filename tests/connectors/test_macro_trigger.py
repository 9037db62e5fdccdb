"""Connectors started by a macro button (connectors/macro_triggers.py): an agent's
submission of the button's form (crm.records.macros.submit_macro) gives each enabled
connector bound to that button one event with the record, the button and the agent, and
the record's contact is the run's."""

import re

import pytest

from connectors.admin.forms import TRIGGER_HELP
from connectors.macro_triggers import MACRO_PAYLOAD_HELP, start_macro_runs
from connectors.models import Connector, Event, Run, RunLog
from crm import services as crm
from crm.records import services as records
from crm.records.macros import submit_macro
from crm.records.models import Field, MacroButton, Module, RecordEntry
from crm.records.values import RecordError
from tests.builders import build_agent, build_connector

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_celery():
    from picky.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


@pytest.fixture
def desk(project):
    patients = Module.objects.create(project=project, name="Patients")
    Field.objects.create(module=patients, key="full_name", label="Full name", required=True)
    Field.objects.create(module=patients, key="visits", label="Visits", type="number")
    follow_up = MacroButton.objects.create(module=patients, name="Follow up", fields=["visits"])
    discharge = MacroButton.objects.create(module=patients, name="Discharge", fields=[])
    asha = crm.upsert_contact(project, "919847012345", name="Asha")
    patient = records.add_record(patients, {"full_name": "Asha Rao", "visits": 1}, contact=asha)
    return {
        "follow_up": follow_up,
        "discharge": discharge,
        "patient": patient,
        "asha": asha,
        "anita": build_agent(project, "anita").user,
    }


def bound_to(project, button, name, **fields):
    noted = ("set_variable", {"name": "visits", "value": "{{ event.record.visits }}"})
    return build_connector(
        project,
        name,
        trigger=Connector.Trigger.MACRO_BUTTON,
        trigger_macro=button,
        steps=[{"actions": [noted]}],
        **fields,
    )


def test_a_submission_runs_the_connectors_bound_to_the_button(
    project, desk, eager_celery, django_capture_on_commit_callbacks
):
    bound = bound_to(project, desk["follow_up"], "Follow-ups")
    bound_to(project, desk["follow_up"], "Switched off", enabled=False)
    bound_to(project, desk["discharge"], "Discharges")
    build_connector(project, "URL only")

    with django_capture_on_commit_callbacks(execute=True):
        submit_macro(desk["follow_up"], desk["patient"], {"visits": "2"}, author=desk["anita"])

    [event] = Event.objects.all()
    assert event.connector == bound
    payload = event.payload
    assert (payload["record"]["visits"], payload["record"]["full_name"]) == (2, "Asha Rao")
    assert payload["button"] == {"id": desk["follow_up"].pk, "name": "Follow up"}
    assert payload["agent"] == {
        "id": desk["anita"].pk,
        "name": "Anita",
        "email": "anita@shop.example",
    }
    assert payload["module"]["name"] == "Patients"
    run = Run.objects.get(event=event)
    assert run.status == Run.Status.SUCCEEDED
    assert run.contact == desk["asha"]
    log = RunLog.objects.get(run=run, kind=RunLog.Kind.ACTION)
    assert log.outputs == {"name": "visits", "value": 2}


def test_a_submission_signalled_again_records_no_second_event(project, desk):
    bound_to(project, desk["discharge"], "Discharges")
    record = records.record_as_dict(desk["patient"])

    first = start_macro_runs(desk["discharge"], record, desk["anita"], entry_id=41)
    again = start_macro_runs(desk["discharge"], record, desk["anita"], entry_id=41)
    other = start_macro_runs(desk["discharge"], record, desk["anita"], entry_id=42)

    assert (len(first), again, len(other)) == (1, [], 1)


def test_a_submission_writes_the_timeline_and_refuses_fields_the_button_does_not_show(
    project, desk, django_capture_on_commit_callbacks
):
    patient = desk["patient"]
    with pytest.raises(RecordError) as refused:
        submit_macro(desk["follow_up"], patient, {"full_name": ""}, author=desk["anita"])
    assert refused.value.errors == {"full_name": "Follow up does not show the field “full_name”."}

    with django_capture_on_commit_callbacks(execute=True):
        submit_macro(desk["follow_up"], patient, {"visits": "3"}, author=desk["anita"])

    macro, change = RecordEntry.objects.filter(record=patient).order_by("-pk")[:2]
    assert (macro.kind, macro.text) == (RecordEntry.Kind.MACRO, "Anita submitted Follow up.")
    assert (change.kind, change.text) == (RecordEntry.Kind.CHANGE, "Follow up: Visits: 1 → 3")


def test_the_admin_s_help_names_what_the_event_holds(project, desk):
    bound_to(project, desk["discharge"], "Discharges")
    start_macro_runs(
        desk["discharge"], records.record_as_dict(desk["patient"]), desk["anita"], entry_id=7
    )
    payload = Event.objects.get().payload

    named = re.findall(r"event\.([a-z_]+)\.([a-z_]+)", MACRO_PAYLOAD_HELP)
    assert len(named) == 12
    for part, key in named:
        assert key in payload[part], f"event.{part}.{key}"
    assert MACRO_PAYLOAD_HELP in TRIGGER_HELP
