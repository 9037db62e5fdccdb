"""Inbound messages start connectors: a message posted to a channel's webhook runs the
connectors its channel triggers, once each, with the message as the event."""

import hashlib
import hmac
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectors.models import Connector, Event, Run
from connectors.transfer import ConnectorImportError, export_connector, import_connector
from crm import services as crm
from crm.models import Contact
from teambox.models import Channel, Message
from teambox.signals import messages_received
from tests.builders import build_connector

REPLY = "Hi {{ event.contact.name }}, you said {{ event.message.text }}"


@pytest.fixture
def eager_celery():
    from picky.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


def replier(
    project, name="Auto-reply", channel=None, trigger=Connector.Trigger.INBOUND_MESSAGE, **fields
):
    """A connector started by messages on `channel` (None: any) that replies on the sandbox."""
    return build_connector(
        project,
        name=name,
        trigger=trigger,
        trigger_channel=channel,
        steps=[
            {
                "actions": [
                    (
                        "send_message",
                        {"channel": "Sandbox", "to": ["{{ contact.number }}"], "text": REPLY},
                    )
                ]
            }
        ],
        **fields,
    )


def post_sandbox(client, channel, **body):
    return client.post(channel.webhook_path, data=json.dumps(body), content_type="application/json")


def post_cloud(client, channel, text, wamid="wamid.in.1"):
    message = {"from": "919800000077", "id": wamid, "timestamp": "1767225600", "type": "text"}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Ravi"}, "wa_id": "919800000077"}],
        "messages": [{**message, "text": {"body": text}}],
    }
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"changes": [{"field": "messages", "value": value}]}],
        }
    ).encode()
    signature = "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    return client.post(
        channel.webhook_path,
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature},
    )


def test_a_message_on_the_sandbox_runs_the_connector_that_replies(
    client, project, sandbox, eager_celery, django_capture_on_commit_callbacks
):
    connector = replier(project, channel=sandbox)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_sandbox(
            client, sandbox, number="+91 98470 12345", name="Asha", message="Call me at 6pm"
        )
    assert response.status_code == 200
    asha = Contact.objects.get(number="919847012345")
    received = Message.objects.get(direction=Message.Direction.IN)
    event = Event.objects.get()
    assert (event.connector, event.method, event.status) == (connector, "MESSAGE", "processed")
    assert event.payload == {
        "message": {
            "id": received.pk,
            "text": "Call me at 6pm",
            "media_url": "",
            "received_at": received.created_at.isoformat(),
            "from": "919847012345",
        },
        "contact": {"id": asha.pk, "number": "919847012345", "name": "Asha", "email": ""},
        "channel": {"id": sandbox.pk, "name": "Sandbox", "kind": "sandbox"},
    }
    run = Run.objects.get()
    assert (run.status, run.contact) == (Run.Status.SUCCEEDED, asha)
    reply = Message.objects.get(direction=Message.Direction.OUT)
    assert (reply.body, reply.contact, reply.channel) == (
        "Hi Asha, you said Call me at 6pm",
        asha,
        sandbox,
    )
    assert reply.status == Message.Status.DELIVERED
    # The reply is a message too, but an outbound one: it started nothing.
    assert Event.objects.count() == 1
    # The first message became the connector's sample: the builder offers its paths.
    connector.refresh_from_db()
    assert "event.message.text" in connector.mapped_paths


def test_a_message_starts_only_the_enabled_connectors_of_its_channel(
    client, project, other_project, sandbox, cloud, eager_celery, django_capture_on_commit_callbacks
):
    any_channel = replier(project, name="Any channel")
    on_cloud = replier(project, name="WhatsApp only", channel=cloud)
    on_sandbox = replier(project, name="Sandbox only", channel=sandbox)
    replier(project, name="Switched off", channel=cloud, enabled=False)
    replier(project, name="URL only", trigger=Connector.Trigger.WEBHOOK)
    replier(other_project, name="Another project")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_cloud(client, cloud, "Is the lamp in stock?").status_code == 200
    started = Event.objects.order_by("connector__name")
    assert [event.connector for event in started] == [any_channel, on_cloud]
    assert on_sandbox.events.count() == 0
    assert started[0].payload["channel"] == {
        "id": cloud.pk,
        "name": "WhatsApp",
        "kind": "whatsapp_cloud",
    }
    # Both replied on the sandbox to the sender, whom neither connector maps.
    replies = Message.objects.filter(direction=Message.Direction.OUT)
    assert (
        sorted(replies.values_list("address", "body"))
        == [
            ("919800000077", "Hi Ravi, you said Is the lamp in stock?"),
        ]
        * 2
    )
    assert {run.contact.name for run in Run.objects.select_related("contact")} == {"Ravi"}


def test_a_message_signalled_again_starts_each_connector_once(
    project, sandbox, django_capture_on_commit_callbacks
):
    first, second = replier(project, name="First"), replier(project, name="Second")
    asha = crm.upsert_contact(project, "919847012345", name="Asha")
    message = Message.objects.create(
        project=project, channel=sandbox, contact=asha, direction=Message.Direction.IN,
        address=asha.number, body="Hello", status=Message.Status.RECEIVED,
    )  # fmt: skip
    with django_capture_on_commit_callbacks() as enqueued:
        for _ in range(2):
            messages_received.send(sender=Message, messages=[message], channel=sandbox)
    assert sorted(Event.objects.values_list("connector", flat=True)) == [first.pk, second.pk]
    assert len(enqueued) == 1  # one worker hand-off for the batch; none for the repeat


def test_a_batch_of_messages_looks_its_connectors_up_once(
    project, sandbox, django_capture_on_commit_callbacks
):
    first, second = replier(project, name="First"), replier(project, name="Second")
    replier(project, name="URL only", trigger=Connector.Trigger.WEBHOOK)
    Connector.objects.update(sample_payload={"message": {"text": "Hello"}})
    senders = [crm.upsert_contact(project, f"9198470{n:05d}", name=f"Lead {n}") for n in range(3)]

    def received(count):
        return Message.objects.bulk_create(
            Message(
                project=project, channel=sandbox, contact=senders[n % 3],
                direction=Message.Direction.IN, address=senders[n % 3].number,
                body=f"Message {n}", status=Message.Status.RECEIVED,
            )
            for n in range(count)
        )  # fmt: skip

    statements = []
    for messages in (received(1), received(50)):
        with (
            CaptureQueriesContext(connection) as queries,
            django_capture_on_commit_callbacks() as enqueued,
        ):
            messages_received.send(sender=Message, messages=messages, channel=sandbox)
        statements.append(len(queries))
        assert len(enqueued) == 1
    # 50 messages cost what one costs: one look-up of the connectors, one INSERT.
    assert statements[0] == statements[1]
    assert first.events.count() == second.events.count() == 51
    keys = set(Event.objects.values_list("connector", "idempotency_key"))
    assert len(keys) == 102
    assert (first.pk, f"picky-message:{Message.objects.last().pk}") in keys
    late = Event.objects.get(connector=second, payload__message__text="Message 49")
    assert late.payload["contact"]["number"] == senders[49 % 3].number


def test_an_outbound_message_starts_nothing(project, sandbox):
    replier(project)
    asha = crm.upsert_contact(project, "919847012345", name="Asha")
    reply = Message.objects.create(
        project=project, channel=sandbox, contact=asha, direction=Message.Direction.OUT,
        address=asha.number, body="Hi Asha, you said Hello",
    )  # fmt: skip
    messages_received.send(sender=Message, messages=[reply], channel=sandbox)
    assert not Event.objects.exists()


def test_a_sender_without_a_number_starts_a_run_without_a_contact(
    client, project, sandbox, eager_celery, django_capture_on_commit_callbacks
):
    connector = build_connector(
        project,
        trigger=Connector.Trigger.INBOUND_MESSAGE,
        steps=[
            {"actions": [("set_variable", {"name": "said", "value": "{{ event.message.from }}"})]}
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        post_sandbox(client, sandbox, number="VM-AMAZON", message="Your parcel is out")
    run = connector.runs.get()
    assert (run.status, run.contact) == (Run.Status.SUCCEEDED, None)
    assert run.event.payload["contact"] == {"id": None, "number": "", "name": "", "email": ""}
    assert run.context["vars"]["said"] == "VM-AMAZON"


def test_the_trigger_travels_in_the_connector_json(project, sandbox):
    # Imported once, its actions' settings are as an import leaves them.
    on_sandbox = import_connector(
        project, export_connector(replier(project, channel=sandbox)), "On"
    )
    document = export_connector(on_sandbox)
    assert document["trigger"] == {"type": "inbound_message", "channel": "Sandbox"}
    copy = import_connector(project, document, name="Auto-reply copy")
    assert (copy.trigger, copy.trigger_channel) == (Connector.Trigger.INBOUND_MESSAGE, sandbox)
    assert {**export_connector(copy), "name": document["name"]} == document

    any_channel = export_connector(replier(project, name="Any"))
    assert any_channel["trigger"] == {"type": "inbound_message", "channel": None}
    assert import_connector(project, any_channel, name="Any copy").trigger_channel is None
    assert "trigger" not in export_connector(replier(project, name="URL", trigger="webhook"))


@pytest.mark.parametrize(
    "trigger,error",
    [
        (
            {"type": "inbound_message", "channel": "Telegram"},
            (
                "trigger.channel",
                "No channel named 'Telegram' in this project. Its channels: Sandbox.",
            ),
        ),
        (
            {"type": "inbound_message", "channel": "Globex line"},
            (
                "trigger.channel",
                "No channel named 'Globex line' in this project. Its channels: Sandbox.",
            ),
        ),
        (
            {"type": "email_opened"},
            (
                "trigger.type",
                "unknown trigger ('email_opened'); known: webhook, inbound_message, "
                "record_created, record_updated, record_deleted, macro_button, group_joined, "
                "group_left",
            ),
        ),
        (
            {"type": "webhook", "channel": "Sandbox"},
            ("trigger.channel", "only an inbound_message trigger has a channel"),
        ),
        (
            {"type": "inbound_message", "channel": 7},
            ("trigger.channel", "must be a channel's name, or null for any channel"),
        ),
        (
            {"type": "inbound_message", "when": "now"},
            ("trigger.when", "unknown key; known keys: type, channel, module, button, group"),
        ),
        ("inbound_message", ("trigger", "must be an object or null, not text")),
    ],
)
def test_import_refuses_a_trigger_it_cannot_honour(project, other_project, sandbox, trigger, error):
    Channel.objects.create(project=other_project, name="Globex line", kind=Channel.Kind.SANDBOX)
    document = {**export_connector(replier(project, channel=sandbox)), "trigger": trigger}
    with pytest.raises(ConnectorImportError) as refused:
        import_connector(project, document, name="Copy")
    assert refused.value.errors == [error]
    assert Connector.objects.count() == 1


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def test_the_admin_offers_the_projects_channels_and_saves_the_trigger(
    member_client, project, other_project, sandbox, cloud
):
    Channel.objects.create(project=other_project, name="Globex line", kind=Channel.Kind.SANDBOX)
    connector = build_connector(project, name="Leads")
    url = f"/admin/connectors/connector/{connector.pk}/change/"
    page = member_client.get(url).content.decode()
    assert "Started by" in page and "Any channel of the project" in page
    assert "event.message.text" in page
    assert f'<option value="{sandbox.pk}">Sandbox</option>' in page
    assert "Globex line" not in page
    form = {
        "name": "Leads", "description": "", "enabled": "on", "field_mapping": "{}",
        "trigger": "inbound_message", "trigger_channel": str(cloud.pk),
        "steps-TOTAL_FORMS": "0", "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    assert member_client.post(url, form).status_code == 302
    connector.refresh_from_db()
    assert (connector.trigger, connector.trigger_channel) == ("inbound_message", cloud)

    foreign = Channel.objects.get(name="Globex line")
    refused = member_client.post(url, {**form, "trigger_channel": str(foreign.pk)})
    assert "Select a valid choice" in refused.content.decode()
    # Back to the URL only: the channel goes with the trigger.
    assert member_client.post(url, {**form, "trigger": "webhook"}).status_code == 302
    connector.refresh_from_db()
    assert (connector.trigger, connector.trigger_channel) == ("webhook", None)
