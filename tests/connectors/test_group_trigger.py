"""Connectors and event webhook 3 started by WhatsApp group members joining or leaving: a
WAHA group.v2.participants webhook updates the synced group (teambox), whose signal gives
each connector bound to the group (or to the parent of a child group) one event per
number, and the project's event webhook an event 3."""

import json

import pytest

from connectors import engine
from connectors.admin.forms import TRIGGER_HELP
from connectors.group_triggers import GROUP_PAYLOAD_HELP
from connectors.models import Connector, Event, RunLog
from connectors.transfer import ConnectorImportError, export_connector, import_connector
from teambox.models import Channel, WhatsAppGroup
from tests.builders import build_connector
from webhooks import deliveries
from webhooks.models import Delivery, WebhookSettings

GROUP = "120363025246125486@g.us"
CHILD = "120363025246125999@g.us"


@pytest.fixture
def waha(project):
    return Channel.objects.create(
        project=project,
        name="Community",
        kind=Channel.Kind.WHATSAPP_WEB,
        credentials={"base_url": "https://waha.example.com", "session": "default"},
    )


@pytest.fixture
def technology(waha):
    return WhatsAppGroup.objects.create(channel=waha, gateway_id=GROUP, subject="Technology")


@pytest.fixture
def child(waha, technology):
    return WhatsAppGroup.objects.create(
        channel=waha, gateway_id=CHILD, subject="Technology 1", parent=technology, position=1
    )


def participants_webhook(client, channel, kind, group_id, *numbers):
    """A WAHA group.v2.participants webhook as its docs show one (NOWEB engine)."""
    body = {
        "event": "group.v2.participants",
        "session": "default",
        "engine": "NOWEB",
        "payload": {
            "group": {"id": group_id},
            "type": kind,
            "timestamp": 1666943582,
            "participants": [
                {"id": f"{n}@c.us", "pn": f"{n}@c.us", "role": "participant"} for n in numbers
            ],
            "_data": {},
        },
    }
    response = client.post(
        channel.webhook_path, data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response


def welcomer(project, group, trigger=Connector.Trigger.GROUP_JOINED, name="Welcome"):
    noted = (
        "set_variable",
        {"name": "who", "value": "{{ event.number }} {{ event.action }} {{ event.group.subject }}"},
    )
    return build_connector(
        project, name, trigger=trigger, trigger_group=group, steps=[{"actions": [noted]}]
    )


def test_a_join_in_a_child_group_starts_the_parents_connector(
    client, project, waha, technology, child, django_capture_on_commit_callbacks
):
    joined = welcomer(project, technology)
    left = welcomer(project, technology, Connector.Trigger.GROUP_LEFT, "Goodbye")
    other = WhatsAppGroup.objects.create(channel=waha, gateway_id="1@g.us", subject="Other")
    welcomer(project, other, name="Other group")
    with django_capture_on_commit_callbacks(execute=True):
        participants_webhook(client, waha, "join", CHILD, "919847012345", "919847000001")
    events = list(Event.objects.order_by("pk"))
    assert [(e.connector, e.method) for e in events] == [(joined, "GROUP"), (joined, "GROUP")]
    assert events[0].payload == {
        "number": "919847012345",
        "action": "joined",
        "group": {"id": CHILD, "subject": "Technology 1", "parent": "Technology"},
        "channel": {"id": waha.pk, "name": "Community", "kind": "whatsapp_web"},
    }
    run = engine.process_event(events[0].pk)
    assert run.status == "succeeded"
    log = RunLog.objects.get(run=run, kind="action")
    assert log.inputs["value"] == "919847012345 joined Technology 1"

    with django_capture_on_commit_callbacks(execute=True):
        participants_webhook(client, waha, "leave", GROUP, "919847012345")
    [leaving] = Event.objects.filter(connector=left)
    assert (leaving.payload["action"], leaving.payload["group"]["parent"]) == ("left", None)
    # Promotions start nothing.
    with django_capture_on_commit_callbacks(execute=True):
        participants_webhook(client, waha, "promote", GROUP, "919847000001")
    assert Event.objects.count() == 3


def test_event_webhook_3_reports_joins_and_leaves(
    client,
    project,
    waha,
    technology,
    httpserver,
    local_outbound,
    django_capture_on_commit_callbacks,
):
    received = []
    httpserver.expect_request("/hooks/picky", method="POST").respond_with_handler(
        lambda request: received.append(request.get_json()) or ("", 204)
    )
    WebhookSettings.objects.create(
        project=project,
        event_url=httpserver.url_for("/hooks/picky").replace("localhost", "127.0.0.1"),
        events=[3],
        secret="whsec-test-0123456789",
    )
    with django_capture_on_commit_callbacks(execute=True):
        participants_webhook(client, waha, "join", GROUP, "919847012345")
        participants_webhook(client, waha, "leave", GROUP, "919847000001")
    for delivery in Delivery.objects.order_by("pk"):
        deliveries.deliver(delivery.pk)
    items = [item for body in received for item in body["data"]]
    assert all(item.pop("date").endswith("+05:30") for item in items)
    assert items == [
        {
            "group_id": GROUP,
            "group_subject": "Technology",
            "number": number,
            "action": action,
            "application": "10",
        }
        for number, action in [("919847012345", 1), ("919847000001", 2)]
    ]
    assert {item["event_id"] for item in received} == {3}


def test_the_trigger_travels_in_the_connector_json(project, waha, technology):
    document = export_connector(welcomer(project, technology))
    assert document["trigger"] == {
        "type": "group_joined",
        "channel": "Community",
        "group": "Technology",
    }
    copy = import_connector(project, document, name="Copy")
    assert (copy.trigger, copy.trigger_group) == ("group_joined", technology)
    for trigger, error in [
        (
            {"type": "group_left", "channel": "Community", "group": "Gossip"},
            (
                "trigger.group",
                "No WhatsApp group named 'Gossip' on 'Community'. Its groups: Technology.",
            ),
        ),
        (
            {"type": "group_left", "group": "Technology"},
            ("trigger.channel", "is required for a group_left trigger"),
        ),
        (
            {"type": "group_left", "channel": "Community"},
            ("trigger.group", "is required for a group_left trigger"),
        ),
        (
            {"type": "webhook", "group": "Technology"},
            ("trigger.group", "only group_joined and group_left triggers have a group"),
        ),
    ]:
        with pytest.raises(ConnectorImportError) as refused:
            import_connector(project, {**document, "trigger": trigger}, name="Refused")
        assert refused.value.errors == [error]


def test_the_admin_saves_a_group_trigger_of_the_project_only(
    client, member, project, other_project, waha, technology, child
):
    foreign_channel = Channel.objects.create(
        project=other_project, name="Globex", kind=Channel.Kind.WHATSAPP_WEB
    )
    foreign = WhatsAppGroup.objects.create(
        channel=foreign_channel, gateway_id="9@g.us", subject="Globex VIP"
    )
    client.force_login(member)
    connector = build_connector(project, name="Leads")
    url = f"/admin/connectors/connector/{connector.pk}/change/"
    page = client.get(url).content.decode()
    assert "A member joins a WhatsApp group" in page and "event.group.subject" in page
    assert f'<option value="{technology.pk}">Community › Technology</option>' in page
    assert "Technology 1" not in page and "Globex VIP" not in page
    form = {
        "name": "Leads", "description": "", "enabled": "on", "field_mapping": "{}",
        "trigger": "group_joined", "trigger_group": "",
        "steps-TOTAL_FORMS": "0", "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    assert "Choose the WhatsApp group" in client.post(url, form).content.decode()
    refused = client.post(url, {**form, "trigger_group": str(foreign.pk)})
    assert "Select a valid choice" in refused.content.decode()
    assert client.post(url, {**form, "trigger_group": str(technology.pk)}).status_code == 302
    connector.refresh_from_db()
    assert (connector.trigger, connector.trigger_group) == ("group_joined", technology)
    assert GROUP_PAYLOAD_HELP in TRIGGER_HELP
