"""The Flow actions through a real connector: chatbot_add puts the run's contact in a flow
that talks to them at once, chatbot_remove takes them out; unknown flows are refused on
save and fail the step at run time, naming the project's flows."""

import pytest
from django import forms

from actions.pickers import names_for
from actions.registry import get_type
from connectors.models import Run, RunLog
from crm import services as crm
from journeys.flows.models import FlowSession
from journeys.sequences.models import Sequence, Subscription
from tests.builders import build_connector
from tests.journeys.flow_builders import build_flow, onboarding, sent_to

pytestmark = pytest.mark.django_db

MAPPING = {"number": "{{ event.phone }}", "name": "{{ event.name }}"}
LEAD = {"phone": "+91 98470 12345", "name": "Asha", "flow": "Onboarding"}


@pytest.fixture
def eager_celery():
    from picky.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


@pytest.fixture
def deliver(client, eager_celery, django_capture_on_commit_callbacks):
    """Post `payload` to a connector running `actions`: its action logs."""

    def post(project, *actions, payload=LEAD):
        connector = build_connector(
            project,
            f"Leads {Run.objects.count() + 1}",
            steps=[{"name": "Bot", "actions": list(actions)}],
            field_mapping=MAPPING,
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"/hooks/{connector.token}", data=payload, content_type="application/json"
            )
        assert response.status_code == 200
        run = Run.objects.get(event_id=response.json()["event"])
        return list(RunLog.objects.filter(run=run, kind=RunLog.Kind.ACTION).order_by("pk"))

    return post


def asha(project):
    return crm.find_contact(project, number="919847012345")


def test_chatbot_add_starts_the_flow_and_chatbot_remove_ends_it(project, sandbox, deliver):
    onboarding(project)
    logs = deliver(project, ("chatbot_add", {"flow": "{{ event.flow }}", "channel": "sandbox"}))
    assert logs[0].status == "ran", logs[0].error
    assert logs[0].outputs == {
        "flow": "Onboarding",
        "channel": "Sandbox",
        "waiting_at": "Age",
        "finished": False,
    }
    assert sent_to(asha(project)) == ["Hi Asha!", "How old are you?"]

    logs = deliver(project, ("chatbot_remove", {}))
    assert logs[0].outputs == {"flow": "", "removed": True}
    assert not FlowSession.objects.exists()


def test_a_contact_in_a_campaign_is_moved_only_when_the_box_is_ticked(project, sandbox, deliver):
    onboarding(project)
    contact = crm.upsert_contact(project, "919847012345", name="Asha")
    sequence = Sequence.objects.create(project=project, name="Drip", channel=sandbox)
    Subscription.objects.create(sequence=sequence, contact=contact, started_at=sequence.created_at)
    logs = deliver(project, ("chatbot_add", {"flow": "Onboarding", "channel": "Sandbox"}))
    assert logs[0].status == "failed"
    assert logs[0].error == (
        "Asha is already in the sequence 'Drip': tick “Trigger even if the contact is already "
        "in a flow or campaign” to move them."
    )
    assert sent_to(contact) == []
    logs = deliver(
        project, ("chatbot_add", {"flow": "Onboarding", "channel": "Sandbox", "force": True})
    )
    assert logs[0].status == "ran", logs[0].error
    assert Subscription.objects.get().status == Subscription.Status.UNSUBSCRIBED


def test_a_flow_unknown_at_run_time_fails_the_step_listing_the_flows(project, sandbox, deliver):
    onboarding(project)
    build_flow(project, name="Survey", steps=[{"name": "End", "kind": "end"}])
    logs = deliver(
        project,
        ("chatbot_add", {"flow": "{{ event.flow }}", "channel": "Sandbox"}),
        payload={**LEAD, "flow": "Welcome"},
    )
    assert logs[0].status == "failed"
    assert logs[0].error == (
        "No flow of this project is called 'Welcome'. Its flows: Onboarding, Survey."
    )


def test_unknown_flows_and_channels_are_refused_on_save(project, sandbox):
    with pytest.raises(forms.ValidationError) as caught:
        get_type("chatbot_add").validate({"flow": "Welcome", "channel": "Telegram"}, project)
    assert caught.value.message_dict == {
        "flow": [
            "No flow of this project is called 'Welcome'. It has no flows yet: build one "
            "under Journeys → Flows."
        ],
        "channel": ["No channel named 'Telegram' in this project. Its channels: Sandbox."],
    }
    onboarding(project)
    with pytest.raises(forms.ValidationError) as caught:
        get_type("chatbot_remove").validate({"flow": "Onboard"}, project)
    assert caught.value.message_dict == {
        "flow": ["No flow of this project is called 'Onboard'. Its flows: Onboarding."]
    }
    assert get_type("chatbot_remove").validate({"flow": "onboarding"}, project) == {
        "flow": "onboarding"
    }


def test_the_flows_picker_offers_the_project_s_flows(project, other_project):
    onboarding(project)
    build_flow(project, name="Survey", steps=[{"name": "End", "kind": "end"}])
    build_flow(other_project, name="Theirs", steps=[{"name": "End", "kind": "end"}])
    assert names_for("flows", project) == ["Onboarding", "Survey"]
    assert names_for("flows", project, "sur") == ["Survey"]
