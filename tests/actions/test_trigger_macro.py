"""trigger_macro through a real connector: the agent named gets a notification that opens
the macro button's form on the record; a module, button, agent or record the project does
not have, or an agent who may not read the module, is refused on save at its field and
fails the step at run time, naming it."""

import pytest
from django import forms

from actions.registry import get_type
from connectors.models import Run, RunLog
from crm.records import services as records
from crm.records.models import Field, MacroButton, Module
from tests.builders import build_agent, build_connector

pytestmark = pytest.mark.django_db

Access = Module.AgentAccess
CONFIG = {
    "module": "Patients",
    "button": "Follow up",
    "agent": "{{ event.agent }}",
    "record_id": "{{ event.patient }}",
}


@pytest.fixture
def eager_celery():
    from picky.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


@pytest.fixture
def clinic(project):
    patients = Module.objects.create(project=project, name="Patients", agent_access=Access.READ)
    Field.objects.create(module=patients, key="full_name", label="Full name")
    Field.objects.create(
        module=patients, key="status", label="Status", type="choice", choices=["New", "Seen"]
    )
    button = MacroButton.objects.create(module=patients, name="Follow up", fields=["status"])
    patient = records.add_record(patients, {"full_name": "Asha Rao"})
    return {
        "patients": patients,
        "button": button,
        "patient": patient,
        "anita": build_agent(project, "anita").user,
    }


@pytest.fixture
def deliver(client, eager_celery, django_capture_on_commit_callbacks):
    def post(project, config, payload):
        name = f"Macros {Run.objects.count() + 1}"
        connector = build_connector(project, name, steps=[{"actions": [("trigger_macro", config)]}])
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"/hooks/{connector.token}", data=payload, content_type="application/json"
            )
        assert response.status_code == 200
        run = Run.objects.get(event_id=response.json()["event"])
        run.log = RunLog.objects.get(run=run, kind=RunLog.Kind.ACTION)
        return run

    return post


def refused(config, project):
    with pytest.raises(forms.ValidationError) as caught:
        get_type("trigger_macro").validate(config, project)
    return caught.value.message_dict


def test_the_agent_gets_a_notification_opening_the_button_s_form(project, clinic, deliver):
    patient, button = clinic["patient"], clinic["button"]

    run = deliver(project, CONFIG, {"agent": "ANITA", "patient": str(patient.pk)})

    assert run.status == Run.Status.SUCCEEDED, run.log.error
    [notification] = clinic["anita"].notifications.all()
    assert (notification.macro_button, notification.record_id) == (button, str(patient.pk))
    assert notification.title == f"Follow up: Patients #{patient.pk}"
    assert notification.read_at is None
    outputs = run.log.outputs
    assert (outputs["notification"], outputs["button"]) == (notification.pk, "Follow up")
    assert outputs["agent"]["email"] == "anita@shop.example"
    assert outputs["record"]["full_name"] == "Asha Rao"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"agent": "nobody", "patient": "1"}, "No member of project 'acme' is called 'nobody'."),
        ({"agent": "anita", "patient": "999999"}, "Patients has no record 999999."),
        ({"agent": "anita", "patient": "A-17"}, "Patients has no record A-17."),
        ({"agent": "anita", "patient": ""}, "Patients has no record (no id given)."),
    ],
)
def test_an_agent_or_record_the_project_does_not_have_fails_the_step(
    project, clinic, deliver, payload, error
):
    run = deliver(project, CONFIG, payload)

    assert run.status == Run.Status.FAILED
    assert run.log.error.startswith(error)
    assert not clinic["anita"].notifications.exists()


def test_a_record_of_another_module_is_refused(project, clinic, deliver):
    deal = records.add_record(Module.objects.get(project=project, name="Deals"), {"title": "X"})

    run = deliver(project, CONFIG, {"agent": "anita", "patient": str(deal.pk)})

    assert run.status == Run.Status.FAILED
    assert run.log.error == f"Patients has no record {deal.pk}."


def test_an_agent_who_may_not_read_the_module_gets_nothing(project, clinic, deliver):
    clinic["patients"].agent_access = Access.NONE
    clinic["patients"].save()
    payload = {"agent": "anita", "patient": str(clinic["patient"].pk)}

    run = deliver(project, CONFIG, payload)

    assert run.status == Run.Status.FAILED
    assert run.log.error == (
        "anita may not read the records of Patients (its agents have no access), so the form "
        "cannot be sent to them: give agents access to Patients, or send it to an owner or "
        "admin."
    )
    assert not clinic["anita"].notifications.exists()
    # An admin reads every module.
    build_agent(project, "meera", role="admin")
    run = deliver(project, CONFIG, {**payload, "agent": "meera"})
    assert run.status == Run.Status.SUCCEEDED, run.log.error


def test_mistakes_are_refused_on_save_at_their_fields(project, clinic):
    assert refused({**CONFIG, "module": "Patient"}, project) == {
        "module": [
            "There is no module “Patient”. Its modules: Company, Deals, Leads, Meetings, "
            "Patients, Support Cases."
        ]
    }
    assert refused({**CONFIG, "button": "Call back"}, project) == {
        "button": ["Patients has no macro button “Call back”. Its macro buttons: Follow up."]
    }
    assert refused({**CONFIG, "agent": "ghost"}, project)["agent"][0].startswith(
        "No member of project 'acme' is called 'ghost'."
    )
    clinic["patients"].agent_access = Access.NONE
    clinic["patients"].save()
    assert refused({**CONFIG, "agent": "anita"}, project) == {
        "agent": [
            "anita may not read the records of Patients (its agents have no access), so the "
            "form cannot be sent to them: give agents access to Patients, or send it to an "
            "owner or admin."
        ]
    }
    assert set(refused({}, project)) == {"module", "button", "agent", "record_id"}
    # Templates are checked when the action runs.
    config = {**CONFIG, "module": "{{ event.module }}", "button": "{{ event.button }}"}
    assert get_type("trigger_macro").validate(config, project) == config
