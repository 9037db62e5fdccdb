"""Smart replies: keyword rules answer a contact's message, unless they are paused for the
contact or the contact is in a chatbot flow; what a batch costs when there is nothing to do."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from crm import services as crm
from journeys import inbound
from journeys.flows import services as flows
from journeys.matching import matches
from journeys.replies.models import SmartReply
from teambox.models import Message
from tests.builders import build_connector

from .flow_builders import onboarding, say, sent_to

NUMBER = "919847012345"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("match", "phrases", "text", "matched"),
    [
        ("exact", "price", "  PRICE ", True),
        ("exact", "price", "price?", False),
        ("contains", "price list", "What is your  Price List?", True),
        ("contains", "hi", "this is it", False),
        ("contains", "hi\nhello, hey", "Hey there", True),
        ("starts_with", "order", "Order 42 status", True),
        ("starts_with", "order", "my order", False),
        ("starts_with", "order", "orders", False),
        ("contains", "", "anything", False),
    ],
)
def test_matching(match, phrases, text, matched):
    assert matches(text, match, phrases) is matched


@pytest.fixture
def rules(project):
    SmartReply.objects.create(
        project=project, name="Off", position=0, enabled=False, phrases="price", reply="Off"
    )
    SmartReply.objects.create(
        project=project,
        name="Prices",
        position=1,
        match="contains",
        phrases="price\nhow much, cost",
        reply="Our prices, {{ contact.name }}: example.com/prices",
        tags="Pricing",
        categories="Leads",
    )
    SmartReply.objects.create(
        project=project, name="Later", position=2, phrases="price", reply="Never sent"
    )


@pytest.fixture
def write(client, sandbox, django_capture_on_commit_callbacks):
    def write(text, number=NUMBER):
        with django_capture_on_commit_callbacks(execute=True):
            say(client, sandbox, number, text)
        return crm.find_contact(sandbox.project, number=number)

    return write


def test_a_matching_message_gets_the_first_rule_s_reply_tags_and_categories(
    project, sandbox, rules, write
):
    asha = write("How much is the blue one?")
    reply = Message.objects.get(direction=Message.Direction.OUT)
    assert (reply.channel, reply.contact, reply.body) == (
        sandbox,
        asha,
        "Our prices, Asha: example.com/prices",
    )
    labels = crm.labels_of(asha)
    assert (labels["tags"], labels["categories"]) == (["Pricing"], ["Leads"])
    write("Thanks!")
    assert sent_to(asha) == ["Our prices, Asha: example.com/prices"]


def test_a_paused_contact_gets_no_auto_reply_and_an_unpaused_one_does(
    project, sandbox, rules, write
):
    with time_machine.travel(NOW, tick=False) as clock:
        asha = crm.upsert_contact(project, NUMBER, name="Asha")
        crm.pause_smart_replies(asha, timedelta(hours=2))
        write("price?")
        assert sent_to(asha) == []
        assert crm.labels_of(asha)["tags"] == []
        clock.shift(timedelta(hours=2, minutes=1))
        write("price?")
        assert sent_to(asha) == ["Our prices, Asha: example.com/prices"]


def test_a_contact_in_a_flow_drives_it_and_gets_no_smart_reply(project, sandbox, rules, write):
    asha = crm.upsert_contact(project, NUMBER, name="Asha")
    flows.start_flow(onboarding(project), asha, channel=sandbox)
    write("price 34")
    assert sent_to(asha)[-1] == "A number please, Asha."
    assert "Our prices" not in " ".join(sent_to(asha))


def test_a_paused_contact_in_a_flow_is_not_answered_by_it(project, sandbox, write):
    asha = crm.upsert_contact(project, NUMBER, name="Asha")
    flows.start_flow(onboarding(project), asha, channel=sandbox)
    crm.pause_smart_replies(asha, timedelta(hours=1))
    write("34")
    assert sent_to(asha) == ["Hi Asha!", "How old are you?"]


def test_a_batch_of_contacts_without_flows_in_a_project_without_rules_costs_one_query(
    project, sandbox, django_assert_num_queries
):
    senders = [crm.upsert_contact(project, f"91984701{n:04d}") for n in range(30)]
    messages = [
        Message(
            project=project,
            channel=sandbox,
            contact=contact,
            direction=Message.Direction.IN,
            body="price",
        )
        for contact in senders
    ]
    with django_assert_num_queries(1):
        inbound.answer_messages(messages, sandbox)


def test_the_pause_smart_replies_action_silences_them_for_its_time(
    client, project, sandbox, rules, write, django_capture_on_commit_callbacks
):
    from picky.celery import app

    connector = build_connector(
        project,
        "Agent takes over",
        steps=[{"actions": [("pause_smart_replies", {"amount": 30, "unit": "minutes"})]}],
        field_mapping={"number": "{{ event.phone }}"},
    )
    app.conf.task_always_eager = True
    try:
        with time_machine.travel(NOW, tick=False) as clock:
            with django_capture_on_commit_callbacks(execute=True):
                response = client.post(
                    f"/hooks/{connector.token}", {"phone": NUMBER}, content_type="application/json"
                )
            assert response.status_code == 200
            asha = write("price please")
            assert sent_to(asha) == []
            clock.shift(timedelta(minutes=31))
            write("price please")
    finally:
        app.conf.task_always_eager = False
    assert sent_to(asha) == ["Our prices, Asha: example.com/prices"]
