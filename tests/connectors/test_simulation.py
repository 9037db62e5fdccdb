"""Simulation by rollback: a simulation runs database types for real in a transaction that
is rolled back (true outputs, no row changed) and only describes outside effects."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.core import mail

from connectors import engine
from connectors.models import Counter, Run, RunLog, ScheduledStep
from crm import services as crm
from tests.builders import build_connector
from tests.connectors.test_delays_cancel import delayed, park

KOLKATA = ZoneInfo("Asia/Kolkata")
NUMBER = "919847012345"


def row_counts():
    """The number of rows of every table of the project's models."""
    return {model._meta.db_table: model._base_manager.count() for model in apps.get_models()}


@pytest.fixture
def parked(project):
    """A run of another connector waiting on a delay with the identifier M-1."""
    webinars = delayed(project, "Webinars")
    with time_machine.travel(datetime(2025, 3, 1, 10, tzinfo=KOLKATA), tick=False):
        return park(webinars, "M-1")


def every_database_type(project):
    return build_connector(
        project,
        name="Everything",
        field_mapping={"number": "{{ event.phone }}", "name": "{{ event.name }}"},
        steps=[
            {
                "name": "Change the contact",
                "actions": [
                    ("map_contact", {"number": "{{ event.phone }}", "email": "a@example.com"}),
                    ("set_attribute", {"name": "city", "value": "Kochi", "save_as": "city"}),
                    ("set_attribute", {"name": "plan", "value": "gold"}),
                    ("clear_attribute", {"name": "plan"}),
                    ("add_tag", {"tags": ["VIP", "Lead"], "save_as": "tagged"}),
                    ("remove_tag", {"tags": ["Lead"]}),
                    ("add_category", {"categories": ["Retail", "Online"]}),
                    ("remove_category", {"categories": ["Online"]}),
                    ("change_owner", {"owner": "member"}),
                    ("blacklist_add", {}),
                    ("blacklist_remove", {}),
                    ("optout_add", {"list": "Promotions"}),
                    ("optout_remove", {"list": "Promotions"}),
                    ("optout_add", {"list": "News"}),
                    ("pause_smart_replies", {"amount": 2, "unit": "hours"}),
                    ("add_note", {"text": "Asked for a call"}),
                    ("add_reminder", {"text": "Call back", "amount": 1, "unit": "days"}),
                    ("trigger_counter", {"name": "visits", "save_as": "visits"}),
                    ("trigger_counter", {"name": "leads"}),
                    ("reset_counter", {"name": "resets", "value": 7}),
                    ("cancel_delay", {"targets": [{"connector": "Webinars", "identifier": "M-1"}]}),
                    ("set_variable", {"name": "seen", "value": "{{ counters.visits }}"}),
                    ("send_email", {"to": ["a@example.com"], "subject": "Hi", "body": "-"}),
                ],
            },
            {"name": "Wait", "delay": {"mode": "fixed", "amount": 1, "unit": "days"}},
            {"name": "Forget", "actions": [("delete_contact", {})]},
        ],
    )


@pytest.mark.django_db
def test_a_simulation_of_every_database_type_changes_no_row(project, member, parked):
    crm.upsert_contact(project, NUMBER, name="Asha")
    Counter.objects.create(project=project, name="visits", value=5)
    connector = every_database_type(project)
    before = row_counts()
    contact_before = crm.contact_as_context(crm.find_contact(project, number=NUMBER))

    simulation = engine.simulate(connector, {"phone": NUMBER, "name": "Asha K"})

    failed = [log for log in simulation.logs if log["status"] == RunLog.Status.FAILED]
    assert failed == []
    assert simulation.status == Run.Status.SUCCEEDED, simulation.error
    assert row_counts() == before
    assert crm.contact_as_context(crm.find_contact(project, number=NUMBER)) == contact_before
    assert Counter.objects.get(name="visits").value == 5
    assert not Counter.objects.filter(name__in=["leads", "resets"]).exists()
    parked.refresh_from_db()
    assert parked.status == Run.Status.WAITING
    assert ScheduledStep.objects.get(run=parked).status == ScheduledStep.Status.PENDING
    assert mail.outbox == []
    # The delay is shown and the simulation goes on past it.
    steps = [
        (log["step_position"], log["status"]) for log in simulation.logs if log["kind"] == "step"
    ]
    assert steps == [(0, "ran"), (1, "waiting"), (1, "ran"), (2, "ran")]


@pytest.mark.django_db
def test_a_new_contact_of_the_field_mapping_is_not_kept(project, member, parked):
    connector = every_database_type(project)
    before = row_counts()
    simulation = engine.simulate(connector, {"phone": "919847000001", "name": "Ravi"})
    assert simulation.status == Run.Status.SUCCEEDED, simulation.error
    assert row_counts() == before


@pytest.mark.django_db
def test_simulated_database_types_show_their_real_outputs(project, member, parked):
    contact = crm.upsert_contact(project, NUMBER, name="Asha")
    crm.add_tags(contact, ["Old"])
    Counter.objects.create(project=project, name="visits", value=5)
    connector = every_database_type(project)

    simulation = engine.simulate(connector, {"phone": NUMBER, "name": "Asha K"})

    outputs = {
        log["action_type"]: log["outputs"]
        for log in simulation.logs
        if log["kind"] == RunLog.Kind.ACTION
    }
    variables = simulation.context["vars"]
    assert variables["visits"] == {"name": "visits", "value": 6}
    assert variables["seen"] == 6
    assert variables["tagged"]["tags"] == ["VIP", "Lead"]
    assert outputs["add_tag"]["contact"]["tags"] == ["Lead", "Old", "VIP"]
    assert variables["city"]["contact"]["attributes"] == {"city": "Kochi"}
    assert variables["city"]["contact"]["id"] == contact.pk
    assert outputs["reset_counter"] == {"name": "resets", "value": 7}
    assert outputs["cancel_delay"]["cancelled"] == 1
    assert outputs["add_note"]["note"]["text"] == "Asked for a call"
    assert outputs["add_reminder"]["reminder"]["assignee"] == "member"
    assert outputs["delete_contact"]["deleted"]["id"] == contact.pk
    # Only the outside effect is described rather than performed.
    simulated = [key for key, value in outputs.items() if value.get("simulated")]
    assert simulated == ["send_email"]
