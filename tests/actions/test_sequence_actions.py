"""sequence_subscribe and sequence_unsubscribe: in a connector's run, on save and at run."""

from datetime import time

import pytest
from django import forms

from actions.base import ActionContext, ActionError
from actions.pickers import names_for
from actions.registry import get_type
from actions.types.crm import set_contact
from connectors import engine, services
from connectors.models import Run, RunLog
from crm import services as crm
from journeys.sequences.models import Delivery, Sequence, SequenceMessage, Subscription
from tests.builders import build_connector

pytestmark = pytest.mark.django_db


@pytest.fixture
def welcome(project, sandbox):
    sequence = Sequence.objects.create(project=project, name="Welcome", channel=sandbox)
    SequenceMessage.objects.create(sequence=sequence, position=0, text="Hi", delay_amount=0)
    SequenceMessage.objects.create(sequence=sequence, position=1, text="Tips", delay_amount=1)
    SequenceMessage.objects.create(
        sequence=sequence, position=2, text="Bye", timing="on_day", day=3, send_time=time(9)
    )
    return sequence


@pytest.fixture
def asha(project):
    return crm.upsert_contact(project, "919847012345", name="Asha")


def run(key, project, contact, config):
    ctx = ActionContext(project=project, data={"event": {}, "vars": {}, "contact": {}})
    set_contact(ctx, contact)
    action_type = get_type(key)
    action_type.validate(config, project)
    return action_type.run(ctx, action_type.render(ctx, config))


def test_a_connector_subscribes_its_contact_once(project, welcome):
    connector = build_connector(
        project,
        field_mapping={"number": "{{ event.phone }}"},
        steps=[{"actions": [("sequence_subscribe", {"sequence": "{{ event.plan }}"})]}],
    )
    for _ in range(2):
        event = services.record_event(
            connector,
            {"phone": "919847012345", "plan": "WELCOME"},
            method="POST",
            headers={},
            source_ip="127.0.0.1",
        )
        engine.process_event(event.pk)
    assert set(Run.objects.values_list("status", flat=True)) == {Run.Status.SUCCEEDED}
    subscription = Subscription.objects.get()
    assert subscription.contact.number == "919847012345"
    assert Delivery.objects.count() == 3
    outputs = RunLog.objects.filter(kind="action").order_by("pk").values_list("outputs", flat=True)
    assert [o["subscribed"] for o in outputs] == [True, False]


def test_start_at_and_restart(project, welcome, asha):
    result = run("sequence_subscribe", project, asha, {"sequence": "Welcome", "start_at": 2})
    assert result.outputs["subscribed"] is True
    assert Delivery.objects.count() == 2
    again = run("sequence_subscribe", project, asha, {"sequence": "Welcome", "restart": True})
    assert again.outputs["subscribed"] is True
    assert Delivery.objects.count() == 3


def test_unsubscribe(project, welcome, asha):
    run("sequence_subscribe", project, asha, {"sequence": "Welcome"})
    result = run("sequence_unsubscribe", project, asha, {"sequence": "welcome"})
    assert result.outputs == {"sequence": "Welcome", "unsubscribed": True}
    assert set(Delivery.objects.values_list("status", flat=True)) == {"skipped"}
    result = run("sequence_unsubscribe", project, asha, {"sequence": "Welcome"})
    assert result.outputs["unsubscribed"] is False


def test_an_unknown_sequence_is_refused_on_save_naming_the_known_ones(project, welcome):
    for key in ("sequence_subscribe", "sequence_unsubscribe"):
        with pytest.raises(forms.ValidationError) as caught:
            get_type(key).validate({"sequence": "Onboarding"}, project)
        assert caught.value.message_dict == {
            "sequence": ["No sequence named 'Onboarding' in this project. Its sequences: Welcome."]
        }


def test_a_start_step_the_sequence_lacks_is_refused_on_save(project, welcome):
    with pytest.raises(forms.ValidationError) as caught:
        get_type("sequence_subscribe").validate({"sequence": "Welcome", "start_at": 4}, project)
    assert caught.value.message_dict == {
        "start_at": ["The sequence 'Welcome' has 3 steps: start at 1 to 3."]
    }


def test_at_run_an_unknown_sequence_or_a_turned_off_one_fails_saying_so(project, welcome, asha):
    with pytest.raises(ActionError, match="No sequence named 'Later'.*Its sequences: Welcome."):
        run("sequence_subscribe", project, asha, {"sequence": "{{ event.missing }}Later"})
    welcome.enabled = False
    welcome.save()
    with pytest.raises(ActionError, match="The sequence 'Welcome' is turned off."):
        run("sequence_subscribe", project, asha, {"sequence": "Welcome"})


def test_the_picker_offers_the_projects_sequences(project, welcome, sandbox, other_project):
    Sequence.objects.create(project=project, name="Win back", channel=sandbox)
    assert names_for("sequences", project, "") == ["Welcome", "Win back"]
    assert names_for("sequences", project, "back") == ["Win back"]
    assert names_for("sequences", other_project, "") == []
