"""send_message and broadcast: messages leave through channels, refusals are logged."""

import pytest

from actions.base import ActionContext, ActionError
from actions.registry import get_type
from actions.types.crm import set_contact
from connectors import engine
from connectors.models import Event, RunLog
from connectors.services import record_event
from crm import services as crm
from crm.models import Contact
from teambox.models import Broadcast, Channel, Message
from tests.builders import build_connector


def context(project, contact=None, **event):
    ctx = ActionContext(project=project, data={"event": event, "vars": {}, "contact": {}})
    if contact is not None:
        set_contact(ctx, contact)
    return ctx


def run(key, ctx, config):
    action_type = get_type(key)
    action_type.validate(config)
    return action_type.run(ctx, action_type.render(ctx, config))


@pytest.fixture
def asha(project):
    return crm.upsert_contact(project, "919847012345", name="Asha", email="asha@example.com")


class TestSendMessage:
    def test_one_message_per_number(self, project, sandbox, asha):
        ctx = context(project, asha, product="Solar Lamp", other="+91 98000 00077")
        result = run(
            "send_message",
            ctx,
            {
                "channel": "sandbox",
                "to": ["{{ contact.number }}", "{{ event.other }}"],
                "text": "Thanks {{ contact.name }} for asking about {{ event.product }}!",
            },
        )
        messages = Message.objects.order_by("pk")
        assert [m.address for m in messages] == ["919847012345", "919800000077"]
        assert messages[0].body == "Thanks Asha for asking about Solar Lamp!"
        assert messages[0].contact == asha
        assert Contact.objects.get(number="919800000077")
        assert result.outputs["sent"] == 2 and result.outputs["skipped"] == []

    def test_refusals_are_logged_not_sent(self, project, sandbox, asha):
        crm.set_blacklisted(asha, True)
        ravi = crm.upsert_contact(project, "919800000077")
        crm.opt_out(ravi, "Promotions")
        result = run(
            "send_message",
            context(project, asha),
            {
                "channel": "Sandbox",
                "to": "919847012345, 919800000077",
                "text": "Sale!",
                "optout_list": "Promotions",
            },
        )
        assert not Message.objects.exists()
        assert result.outputs["skipped"] == [
            {"to": "919847012345", "reason": "The contact is blacklisted."},
            {"to": "919800000077", "reason": "The contact opted out of 'Promotions'."},
        ]

    def test_no_valid_number_is_an_error(self, project, sandbox):
        with pytest.raises(
            ActionError, match="The message \"Send Message\" was not sent: '12' is not a WhatsApp"
        ):
            run(
                "send_message",
                context(project, phone="12"),
                {"channel": "Sandbox", "to": ["{{ event.phone }}"], "text": "Hi"},
            )

    def test_unknown_channel_names_the_channels(self, project, sandbox):
        with pytest.raises(ActionError, match=r"No channel named 'Nope'.*Its channels: Sandbox\."):
            run(
                "send_message",
                context(project),
                {"channel": "Nope", "to": "919847012345", "text": "Hi"},
            )

    def test_official_channel_without_session_needs_a_template(
        self, project, asha, httpserver, settings
    ):
        settings.PICKY_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
        Channel.objects.create(
            project=project,
            name="WhatsApp",
            kind=Channel.Kind.WHATSAPP_CLOUD,
            credentials={
                "phone_number_id": "1",
                "access_token": "t",
                "verify_token": "v" * 8,
                "base_url": httpserver.url_for("/"),
            },
        )
        config = {"channel": "WhatsApp", "to": ["{{ contact.number }}"], "text": "Hello"}
        with pytest.raises(ActionError, match="only accepts a template.*Nothing was sent"):
            run("send_message", context(project, asha), config)
        assert not Message.objects.exists()
        config.update(template="welcome", template_params=["{{ contact.name }}"])
        run("send_message", context(project, asha), config)
        message = Message.objects.get()
        assert (message.template, message.template_params) == ("welcome", ["Asha"])

    def test_config_needs_content_and_valid_numbers(self):
        send = get_type("send_message")
        with pytest.raises(Exception, match="text, a media URL or a template"):
            send.validate({"channel": "x", "to": "919847012345"})
        with pytest.raises(Exception, match="not a WhatsApp number"):
            send.validate({"channel": "x", "to": ["12"], "text": "Hi"})

    def test_dry_run_sends_nothing(self, project, sandbox, asha):
        send = get_type("send_message")
        ctx = context(project, asha)
        inputs = send.render(
            ctx,
            {"channel": "Sandbox", "to": ["{{ contact.number }}", "919800000011"], "text": "Hi"},
        )
        result = send.dry_run(ctx, inputs)
        assert result.outputs["would_send"] == ["919847012345", "919800000011"]
        assert not Message.objects.exists()
        assert not Contact.objects.filter(number="919800000011").exists()


def test_a_connector_run_sends_once_even_when_the_run_is_repeated(
    project, sandbox, django_capture_on_commit_callbacks
):
    connector = build_connector(
        project,
        field_mapping={"number": "{{ event.phone }}", "name": "{{ event.name }}"},
        steps=[
            {
                "actions": [
                    (
                        "send_message",
                        {
                            "channel": "Sandbox",
                            "to": ["{{ contact.number }}"],
                            "text": "Thanks {{ contact.name }}!",
                        },
                    )
                ]
            }
        ],
    )
    event = record_event(
        connector,
        {"phone": "919847012345", "name": "Asha"},
        method="POST",
        headers={},
        source_ip=None,
    )
    run = engine.process_event(event.pk)
    assert run.status == "succeeded"
    message = Message.objects.get()
    assert message.body == "Thanks Asha!"
    assert message.idempotency_key.startswith(f"run{run.pk}:")
    # A second execution of the same run (a worker redelivery) does not send again.
    RunLog.objects.filter(run=run).delete()
    engine.RunExecutor(run, Event.objects.get(pk=event.pk)).execute()
    assert Message.objects.count() == 1


def test_broadcast_action_renders_per_recipient(
    project, sandbox, django_capture_on_commit_callbacks
):
    from celery import current_app

    for number, name in (("919800000001", "Anu"), ("919800000002", "Binu")):
        crm.add_tags(crm.upsert_contact(project, number, name=name), ["Kerala"])
    crm.upsert_contact(project, "919800000003", name="Other")
    ctx = context(project, sale="Onam")
    current_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = run(
                "broadcast",
                ctx,
                {
                    "channel": "Sandbox",
                    "tags": ["kerala"],
                    "name": "{{ event.sale }} sale",
                    "text": "Hi {{ contact.name }}, {{ event.sale }} sale!",
                },
            )
    finally:
        current_app.conf.task_always_eager = False
    broadcast = Broadcast.objects.get()
    assert result.outputs == {
        "broadcast": broadcast.pk,
        "name": "Onam sale",
        "status": "running",
        "recipients": 2,
        "skipped": 0,
    }
    broadcast.refresh_from_db()
    assert broadcast.status == "done"
    assert sorted(Message.objects.values_list("body", flat=True)) == [
        "Hi Anu, Onam sale!",
        "Hi Binu, Onam sale!",
    ]


def test_broadcast_dry_run_counts_the_segment(project, sandbox):
    for number in ("919800000001", "919800000002"):
        crm.add_tags(crm.upsert_contact(project, number), ["VIP"])
    crm.set_blacklisted(Contact.objects.first(), True)
    broadcast = get_type("broadcast")
    ctx = context(project)
    result = broadcast.dry_run(
        ctx, broadcast.render(ctx, {"channel": "Sandbox", "tags": "VIP", "text": "Hi"})
    )
    assert (result.outputs["segment"], result.outputs["recipients"]) == (2, 1)
    assert not Broadcast.objects.exists()


class TestSendWhatsmail:
    @pytest.fixture
    def mail_channel(self, project):
        return Channel.objects.create(project=project, name="Mail", kind=Channel.Kind.EMAIL)

    def test_mails_the_contact_from_its_reply_address(
        self, project, asha, mail_channel, settings, client, django_capture_on_commit_callbacks
    ):
        from celery import current_app
        from django.core import mail

        settings.PICKY_REPLY_DOMAIN = "reply.shop.example"
        current_app.conf.task_always_eager = True
        try:
            with django_capture_on_commit_callbacks(execute=True):
                result = run(
                    "send_whatsmail",
                    context(project, asha, quote="Q-7"),
                    {"subject": "Your quote {{ event.quote }}", "body": "See attached."},
                )
        finally:
            current_app.conf.task_always_eager = False
        [sent] = mail.outbox
        assert sent.to == ["asha@example.com"] and sent.subject == "Your quote Q-7"
        reply_to = result.outputs["reply_to"]
        assert sent.reply_to == [reply_to] and reply_to.endswith("@reply.shop.example")
        # The contact's reply comes back through the channel's webhook to the same contact.
        response = client.post(
            mail_channel.webhook_path,
            data={"from": "asha.personal@example.org", "to": reply_to, "text": "Thanks!"},
        )
        assert response.status_code == 200
        reply = Message.objects.get(direction=Message.Direction.IN)
        assert (reply.contact_id, reply.body) == (asha.pk, "Thanks!")

    def test_needs_an_email_channel(self, project, asha, sandbox):
        with pytest.raises(ActionError, match="no e-mail channel"):
            run("send_whatsmail", context(project, asha), {"subject": "s", "body": "b"})
        with pytest.raises(ActionError, match="'Sandbox' is not an e-mail channel"):
            run(
                "send_whatsmail",
                context(project, asha),
                {"subject": "s", "body": "b", "channel": "Sandbox"},
            )

    def test_refused_contacts_are_skipped(self, project, asha, mail_channel):
        crm.set_blacklisted(asha, True)
        result = run("send_whatsmail", context(project, asha), {"subject": "s", "body": "b"})
        assert result.outputs == {
            "to": "asha@example.com",
            "skipped": "Not sent to Asha: The contact is blacklisted.",
        }
        assert not Message.objects.exists()
