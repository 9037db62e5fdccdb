"""Simulation by rollback: a simulation runs database types for real in a transaction that
is rolled back (true outputs, no row changed) and only describes outside effects."""

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.core import mail

from actions.base import Effect
from actions.models import Action
from actions.registry import all_types
from connectors import engine, services
from connectors.models import Counter, Event, Run, RunLog, ScheduledStep
from crm import services as crm
from crm.models import Contact
from teambox.models import Channel, Message, WhatsAppGroup
from tests.actions.test_contract import minimal_config
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


# Outside effects: described, not sent ------------------------------------------------------

SECRET = "s3cret-never-shown-4711"
PAYLOAD = {"phone": "+91 98470 12345", "email": "asha@shop.example", "name": "Asha"}
OUTSIDE_TYPES = sorted(key for key, t in all_types().items() if t.effect == Effect.OUTSIDE)


@pytest.fixture
def channels(project):
    Channel.objects.create(project=project, name="WhatsApp", kind=Channel.Kind.SANDBOX)
    Channel.objects.create(project=project, name="Mail", kind=Channel.Kind.EMAIL)


@pytest.fixture
def local_http(settings):
    settings.PICKY_OUTBOUND_ALLOWLIST = ["127.0.0.1"]


def local_url(httpserver, path):
    return httpserver.url_for(path).replace("localhost", "127.0.0.1")


def leaves(value):
    """The text and numbers inside `value`, however nested."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [] if value in (None, "") else [str(value)]


def simulated_action(connector, payload=PAYLOAD, **options):
    simulation = engine.simulate(connector, payload, **options)
    (log,) = [log for log in simulation.logs if log["kind"] == RunLog.Kind.ACTION]
    return log


def one_action(project, key, config, name="Contract"):
    return build_connector(
        project,
        name=name,
        field_mapping={"number": "{{ event.phone }}", "email": "{{ event.email }}"},
        steps=[{"name": "Only step", "actions": [(key, config)]}],
    )


PHONE = re.compile(r"\+?[0-9][0-9 ()-]{6,}")


@pytest.mark.django_db
@pytest.mark.parametrize("key", OUTSIDE_TYPES)
def test_every_outside_type_shows_what_it_would_send_and_sends_nothing(
    key, project, channels, httpserver
):
    project.chatgpt_api_key = SECRET
    project.save(update_fields=["chatgpt_api_key"])
    build_connector(project, name="Sample")  # where route_connector's minimal config routes
    if key.startswith("group_"):
        # Groups live on a WhatsApp Web channel; the minimal configs name the group "Tips".
        whatsapp = Channel.objects.filter(project=project, name="WhatsApp")
        whatsapp.update(
            kind=Channel.Kind.WHATSAPP_WEB,
            credentials={"base_url": local_url(httpserver, "/"), "api_key": SECRET},
        )
        WhatsAppGroup.objects.create(
            channel=whatsapp.get(), gateway_id="120363000000000001@g.us", subject="Tips"
        )
    connector = one_action(project, key, minimal_config(key))

    log = simulated_action(connector)

    assert log["status"] == RunLog.Status.RAN, log["error"]
    assert log["simulation"]["sent"] is False
    shown = json.dumps(log["simulation"], ensure_ascii=False)
    # Every value of its settings, after templating, is in what it shows would go out.
    # A phone number may show as the digits it goes out as (+91 98470 12345: 919847012345).
    missing = [
        leaf
        for leaf in leaves(log["inputs"])
        if leaf not in shown and not (PHONE.fullmatch(leaf) and re.sub(r"\D", "", leaf) in shown)
    ]
    assert missing == [], f"{key} does not show {missing} in {shown}"
    assert SECRET not in shown
    assert mail.outbox == [] and Message.objects.count() == 0 and Event.objects.count() == 0
    assert httpserver.log == []


@pytest.mark.django_db
def test_the_simulate_page_marks_it_not_sent_with_the_rendered_message(
    project, channels, member, client
):
    connector = one_action(
        project, "send_message", {"channel": "WhatsApp", "to": ["{{ contact.number }}"],
                                  "text": "Thanks {{ event.name }}!"},
    )  # fmt: skip
    client.force_login(member)

    response = client.post(
        f"/admin/connectors/connector/{connector.pk}/simulate/", {"payload": json.dumps(PAYLOAD)}
    )

    content = response.content.decode()
    assert "not sent (simulation)" in content and "Would send" in content
    assert "Thanks Asha!" in content and NUMBER in content


@pytest.mark.django_db
def test_a_request_shows_its_method_url_headers_masked_and_body(project, httpserver):
    config = {
        "method": "POST",
        "url": "https://api.example.com/leads?api_key=" + SECRET + "&src={{ event.name }}",
        "headers": {"X-Api-Key": SECRET, "Accept": "application/json"},
        "body_type": "json",
        "body": {"phone": "{{ contact.number }}"},
    }
    log = simulated_action(one_action(project, "http_request", config))

    assert log["simulation"] == {
        "sent": False,
        "method": "POST",
        "url": "https://api.example.com/leads?api_key=*****&src=Asha",
        "headers": {"X-Api-Key": "*****", "Accept": "application/json"},
        "body": {"phone": NUMBER},
    }
    # No status it did not get.
    assert log["outputs"]["status"] is None and log["outputs"]["ok"] is None


@pytest.mark.django_db
class TestSafeRequestsForReal:
    def test_a_get_is_sent_and_shows_the_real_answer(self, project, httpserver, local_http):
        httpserver.expect_request("/lookup", query_string={"phone": NUMBER}).respond_with_json(
            {"plan": "gold"}, status=203
        )
        url = local_url(httpserver, "/lookup") + "?phone={{ contact.number }}"
        connector = one_action(project, "http_request", {"url": url, "save_as": "crm"})

        log = simulated_action(connector, sends_safe_requests=True)

        assert log["status"] == RunLog.Status.RAN, log["error"]
        assert log["simulation"]["sent"] is True
        assert log["outputs"]["status"] == 203 and log["outputs"]["response"] == {"plan": "gold"}
        assert len(httpserver.log) == 1
        # Off, the same GET is not sent.
        log = simulated_action(connector)
        assert log["simulation"]["sent"] is False and log["outputs"]["status"] is None
        assert len(httpserver.log) == 1

    def test_an_unresolvable_host_shows_the_error(self, project):
        url = "http://no-such-host.invalid/lookup"
        connector = one_action(project, "http_request", {"url": url})

        log = simulated_action(connector, sends_safe_requests=True)

        assert log["status"] == RunLog.Status.FAILED
        assert "Could not resolve host 'no-such-host.invalid'" in log["error"]

    def test_a_post_is_not_sent(self, project, httpserver, local_http):
        url = local_url(httpserver, "/leads")
        connector = one_action(project, "http_request", {"method": "POST", "url": url})

        log = simulated_action(connector, sends_safe_requests=True)

        assert log["simulation"]["sent"] is False and log["outputs"]["status"] is None
        assert httpserver.log == []


@pytest.mark.django_db
def test_templates_read_the_contact_of_the_field_mapping(project, channels):
    connector = one_action(
        project, "send_message", {"channel": "WhatsApp", "to": ["{{ contact.number }}"],
                                  "text": "Hi {{ contact.name }}, we call {{ contact.number }}"},
    )  # fmt: skip
    connector.field_mapping = {"number": "{{ event.phone }}", "name": "{{ event.name }}"}
    connector.save(update_fields=["field_mapping"])

    log = simulated_action(connector)

    assert log["simulation"]["to"] == [NUMBER]
    assert log["simulation"]["text"] == f"Hi Asha, we call {NUMBER}"
    assert not Contact.objects.exists()


# The action's own name -----------------------------------------------------------------


@pytest.mark.django_db
def test_the_timeline_says_the_actions_own_name(project, channels, member, client):
    connector = one_action(
        project, "send_message", {"channel": "WhatsApp", "to": ["{{ contact.number }}"],
                                  "text": "Thanks"},
    )  # fmt: skip
    Action.objects.filter(step__connector=connector).update(name="Thank the buyer")
    client.force_login(member)

    simulated = client.post(
        f"/admin/connectors/connector/{connector.pk}/simulate/", {"payload": json.dumps(PAYLOAD)}
    )
    run = engine.process_event(
        services.record_event(
            connector, PAYLOAD, method="POST", headers={}, source_ip="127.0.0.1"
        ).pk
    )
    run_page = client.get(f"/admin/connectors/run/{run.pk}/change/")

    for response in (simulated, run_page):
        titles = [row["title"] for row in response.context["rows"]]
        assert titles == ["Step 1 · Only step", "Thank the buyer · Send Message"]
