"""The WhatsApp Web (WAHA) adapter against a local server speaking WAHA's wire format."""

import hashlib
import hmac
import json

import pytest

from teambox import services
from teambox.channels import ChannelError, adapter_for
from teambox.groups import sync_groups
from teambox.models import Channel, Conversation, GroupParticipant, Message, WhatsAppGroup
from teambox.signals import group_members_changed, messages_received

KEY = {"X-Api-Key": "waha-secret-key"}
GROUP = "120363025246125486@g.us"


@pytest.fixture
def waha(project, httpserver, local_outbound):
    return Channel.objects.create(
        project=project,
        name="Community",
        kind=Channel.Kind.WHATSAPP_WEB,
        credentials={
            "base_url": httpserver.url_for("/"),
            "session": "default",
            "api_key": "waha-secret-key",
        },
    )


def test_credentials_form_needs_a_gateway_and_keeps_keys_secret():
    from teambox.channels.whatsapp_web import WhatsAppWebAdapter

    errors = WhatsAppWebAdapter.credential_errors({"session": "bad session!"})
    assert set(errors) == {"base_url", "session"}
    assert (
        WhatsAppWebAdapter.credential_errors(
            {"base_url": "https://waha.example.com", "session": "default"}
        )
        == {}
    )
    assert set(WhatsAppWebAdapter.secret_credentials) == {"api_key", "webhook_hmac_key"}


def test_text_to_a_person_is_sent_with_the_api_key(waha, project, httpserver):
    from crm import services as crm

    asha = crm.upsert_contact(project, "919847012345", name="Asha")
    httpserver.expect_oneshot_request(
        "/api/sendText",
        method="POST",
        headers=KEY,
        json={"session": "default", "chatId": "919847012345@c.us", "text": "Hello Asha"},
    ).respond_with_json(
        {
            "key": {
                "remoteJid": "919847012345@s.whatsapp.net",
                "fromMe": True,
                "id": "BAE5F5A632EAE722",
            },
            "status": 1,
        },
        status=201,
    )
    message = Message.objects.create(
        project=project,
        channel=waha,
        contact=asha,
        direction=Message.Direction.OUT,
        address=asha.number,
        body="Hello Asha",
    )
    sent = services.deliver_message(message.pk)
    httpserver.check_assertions()
    assert (sent.status, sent.provider_id) == ("submitted", "BAE5F5A632EAE722")


def test_media_to_a_group_uses_send_image(waha, httpserver):
    httpserver.expect_oneshot_request(
        "/api/sendImage",
        method="POST",
        headers=KEY,
        json={
            "session": "default",
            "chatId": GROUP,
            "file": {
                "url": "https://cdn.example.com/p/lamp.jpg",
                "mimetype": "image/jpeg",
                "filename": "lamp.jpg",
            },
            "caption": "Our lamp",
        },
    ).respond_with_json({"id": f"true_{GROUP}_3EB0C767D097B7C7D1A2_919000000000@c.us"})
    sent = adapter_for(waha).send_media_to(GROUP, "https://cdn.example.com/p/lamp.jpg", "Our lamp")
    httpserver.check_assertions()
    assert sent.provider_id == "3EB0C767D097B7C7D1A2"


def test_create_group_returns_its_id(waha, httpserver):
    httpserver.expect_oneshot_request(
        "/api/default/groups",
        method="POST",
        headers=KEY,
        json={
            "name": "Technology",
            "participants": [{"id": "919847012345@c.us"}, {"id": "919847000001@c.us"}],
        },
    ).respond_with_json(
        {"id": GROUP, "subject": "Technology", "participants": [], "announce": False},
        status=201,
    )
    assert (
        adapter_for(waha).create_group("Technology", ["+91 98470 12345", "919847000001"]) == GROUP
    )
    httpserver.check_assertions()


def test_add_participants_reports_each_number(waha, httpserver):
    httpserver.expect_oneshot_request(
        f"/api/default/groups/{GROUP}/participants/add",
        method="POST",
        json={"participants": [{"id": "919847012345@c.us"}, {"id": "919847000001@c.us"}]},
    ).respond_with_json(
        [
            {"status": "200", "jid": "919847012345@s.whatsapp.net"},
            {"status": "403", "jid": "919847000001@s.whatsapp.net"},
        ]
    )
    outcomes = adapter_for(waha).add_participants(GROUP, ["919847012345", "919847000001"])
    httpserver.check_assertions()
    assert [(o.number, o.ok) for o in outcomes] == [
        ("919847012345", True),
        ("919847000001", False),
    ]
    assert "privacy settings" in outcomes[1].reason


def test_group_settings_calls(waha, httpserver):
    httpserver.expect_ordered_request(
        f"/api/default/groups/{GROUP}/settings/security/messages-admin-only",
        method="PUT",
        json={"adminsOnly": True},
    ).respond_with_json(True)
    httpserver.expect_ordered_request(
        f"/api/default/groups/{GROUP}/description", method="PUT", json={"description": "Tips"}
    ).respond_with_json(True)
    httpserver.expect_ordered_request(
        f"/api/default/groups/{GROUP}/admin/promote",
        method="POST",
        json={"participants": [{"id": "919847012345@c.us"}]},
    ).respond_with_json([{"status": "200", "jid": "919847012345@s.whatsapp.net"}])
    adapter = adapter_for(waha)
    adapter.set_admins_only(GROUP, True)
    adapter.set_description(GROUP, "Tips")
    assert adapter.promote_admins(GROUP, ["919847012345"])[0].ok
    httpserver.check_assertions()


def test_list_participants_and_groups(waha, httpserver):
    httpserver.expect_oneshot_request(
        f"/api/default/groups/{GROUP}/participants/v2", method="GET", headers=KEY
    ).respond_with_json(
        [
            {"id": "919847012345@c.us", "pn": "919847012345@c.us", "role": "superadmin"},
            {"id": "123456789012345@lid", "pn": "919847000001@c.us", "role": "participant"},
            {"id": "999999999999999@lid", "role": "participant"},
        ]
    )
    httpserver.expect_oneshot_request("/api/default/groups", method="GET").respond_with_json(
        {
            GROUP: {
                "id": GROUP,
                "subject": "Technology",
                "desc": "Tips every day",
                "announce": True,
                "participants": [{"id": "919847012345@s.whatsapp.net", "admin": "superadmin"}],
            }
        }
    )
    adapter = adapter_for(waha)
    members = adapter.list_participants(GROUP)
    assert [(m.number, m.is_admin) for m in members] == [
        ("919847012345", True),
        ("919847000001", False),
    ]
    [group] = adapter.list_groups()
    assert (group.gateway_id, group.subject, group.description, group.only_admins_post) == (
        GROUP,
        "Technology",
        "Tips every day",
        True,
    )
    assert [(p.number, p.is_admin) for p in group.participants] == [("919847012345", True)]


def test_gateway_errors_carry_its_reason(waha, httpserver):
    httpserver.expect_oneshot_request(
        f"/api/default/groups/{GROUP}/participants/remove", method="POST"
    ).respond_with_json(
        {"statusCode": 500, "message": "not-authorized", "exception": {"message": "forbidden"}},
        status=500,
    )
    httpserver.expect_oneshot_request("/api/default/groups", method="POST").respond_with_json(
        {"statusCode": 422, "message": "Session status is not as expected"}, status=422
    )
    adapter = adapter_for(waha)
    with pytest.raises(ChannelError) as removing:
        adapter.remove_participants(GROUP, ["919847012345"])
    assert "not-authorized" in removing.value.message and not removing.value.permanent
    with pytest.raises(ChannelError) as creating:
        adapter.create_group("Technology", ["919847012345"])
    assert "Session status is not as expected" in creating.value.message
    assert creating.value.permanent


# Webhooks: bodies as WAHA's docs show them ------------------------------------------

MESSAGE_EVENT = {
    "id": "evt_01aaaaaaaaaaaaaaaaaaaaaaaa",
    "timestamp": 1634567890123,
    "session": "default",
    "engine": "WEBJS",
    "event": "message",
    "payload": {
        "id": "false_919847012345@c.us_AAAAAAAAAAAAAAAAAAAA",
        "timestamp": 1666943582,
        "from": "919847012345@c.us",
        "fromMe": False,
        "source": "app",
        "to": "919000000000@c.us",
        "body": "Is the lamp in stock?",
        "hasMedia": False,
        "ack": 1,
        "ackName": "SERVER",
        "_data": {"notifyName": "Asha"},
    },
    "me": {"id": "919000000000@c.us", "pushName": "Shop"},
    "environment": {"tier": "CORE", "version": "2025.5.1", "engine": "WEBJS"},
}

ACK_EVENT = {
    "event": "message.ack",
    "session": "default",
    "engine": "WEBJS",
    "payload": {
        "id": "true_919847012345@c.us_BAE5F5A632EAE722",
        "from": "919847012345@c.us",
        "to": "919000000000@c.us",
        "participant": None,
        "fromMe": True,
        "ack": 3,
        "ackName": "READ",
    },
}


def participants_event(kind, *ids):
    return {
        "event": "group.v2.participants",
        "session": "default",
        "engine": "NOWEB",
        "payload": {
            "group": {"id": GROUP},
            "type": kind,
            "timestamp": 1666943582,
            "participants": [
                {
                    "id": wa_id,
                    "pn": wa_id if wa_id.endswith("@c.us") else None,
                    "role": "participant",
                }
                for wa_id in ids
            ],
            "_data": {},
        },
    }


def post_webhook(client, channel, payload, headers=None):
    return client.post(
        channel.webhook_path,
        data=json.dumps(payload).encode(),
        content_type="application/json",
        headers=headers or {},
    )


def test_inbound_message_opens_a_conversation(client, waha, django_capture_on_commit_callbacks):
    received = []

    def on_messages(sender, messages, channel, **kwargs):
        received.extend(m.body for m in messages)

    messages_received.connect(on_messages)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            first = post_webhook(client, waha, MESSAGE_EVENT)
            again = post_webhook(client, waha, MESSAGE_EVENT)
    finally:
        messages_received.disconnect(on_messages)
    assert first.json() == {"status": "ok", "messages": 1, "statuses": 0}
    assert again.json()["messages"] == 1
    message = Message.objects.get(channel=waha, direction=Message.Direction.IN)
    assert (message.address, message.body, message.provider_id) == (
        "919847012345",
        "Is the lamp in stock?",
        "AAAAAAAAAAAAAAAAAAAA",
    )
    assert message.contact.name == "Asha"
    assert Conversation.objects.filter(contact=message.contact).exists()
    assert received == ["Is the lamp in stock?"]


def test_group_messages_and_other_events_are_not_conversations(client, waha):
    group_message = {**MESSAGE_EVENT, "payload": {**MESSAGE_EVENT["payload"], "from": GROUP}}
    assert post_webhook(client, waha, group_message).json()["messages"] == 0
    status = {"event": "session.status", "session": "default", "payload": {"status": "WORKING"}}
    assert post_webhook(client, waha, status).json()["messages"] == 0
    assert post_webhook(client, waha, {"no": "event"}).status_code == 400
    assert not Message.objects.filter(channel=waha).exists()


def test_ack_moves_the_sent_message_forward(client, waha, project):
    from crm import services as crm

    asha = crm.upsert_contact(project, "919847012345")
    message = Message.objects.create(
        project=project, channel=waha, contact=asha, direction=Message.Direction.OUT,
        address="919847012345", body="Hi", status=Message.Status.SUBMITTED,
        provider_id="BAE5F5A632EAE722",
    )  # fmt: skip
    assert post_webhook(client, waha, ACK_EVENT).json()["statuses"] == 1
    message.refresh_from_db()
    assert message.status == Message.Status.READ


def test_hmac_signed_webhooks(client, waha):
    waha.credentials = {**waha.credentials, "webhook_hmac_key": "hmac-secret-key"}
    waha.save()
    body = json.dumps(MESSAGE_EVENT).encode()
    good = hmac.new(b"hmac-secret-key", body, hashlib.sha512).hexdigest()
    headers = {"X-Webhook-Hmac": good, "X-Webhook-Hmac-Algorithm": "sha512"}
    unsigned = client.post(waha.webhook_path, data=body, content_type="application/json")
    assert unsigned.status_code == 403
    forged = client.post(
        waha.webhook_path, data=body, content_type="application/json",
        headers={"X-Webhook-Hmac": "0" * 128},
    )  # fmt: skip
    assert forged.status_code == 403
    signed = client.post(
        waha.webhook_path, data=body, content_type="application/json", headers=headers
    )
    assert signed.json()["messages"] == 1


@pytest.fixture
def technology(waha):
    group = WhatsAppGroup.objects.create(channel=waha, gateway_id=GROUP, subject="Technology")
    GroupParticipant.objects.create(group=group, number="919000000000", is_admin=True)
    return group


@pytest.fixture
def membership_signals():
    seen = []

    def on_change(sender, group, numbers, action, **kwargs):
        seen.append((group.subject, numbers, action))

    group_members_changed.connect(on_change)
    yield seen
    group_members_changed.disconnect(on_change)


def test_participants_join_leave_and_promote(
    client, waha, technology, membership_signals, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_webhook(client, waha, participants_event("join", "919847012345@c.us", "1234@lid"))
    assert membership_signals == [("Technology", ["919847012345"], "joined")]
    with django_capture_on_commit_callbacks(execute=True):
        post_webhook(client, waha, participants_event("promote", "919847012345@c.us"))
    assert technology.participants.get(number="919847012345").is_admin
    with django_capture_on_commit_callbacks(execute=True):
        post_webhook(client, waha, participants_event("leave", "919847012345@c.us"))
    assert membership_signals[-1] == ("Technology", ["919847012345"], "left")
    assert list(technology.participants.values_list("number", flat=True)) == ["919000000000"]


def test_participants_of_an_unsynced_group_are_skipped(client, waha, membership_signals):
    response = post_webhook(client, waha, participants_event("join", "919847012345@c.us"))
    assert response.status_code == 200
    assert membership_signals == [] and not GroupParticipant.objects.exists()


# Sync and admin ------------------------------------------------------------------------


def test_sync_adds_updates_and_removes_groups(waha, technology, httpserver):
    gone = WhatsAppGroup.objects.create(channel=waha, gateway_id="1203630@g.us", subject="Old")
    other = "120363111111111111@g.us"
    httpserver.expect_oneshot_request("/api/default/groups", method="GET").respond_with_json(
        [
            {
                "id": GROUP,
                "subject": "Technology news",
                "description": "Daily",
                "membersCanSendMessages": False,
            },
            {"id": other, "subject": "Cooking", "description": "", "membersCanSendMessages": True},
        ]  # fmt: skip
    )
    for group_id, members in (
        (GROUP, [{"id": "919847012345@c.us", "role": "admin"}]),
        (other, [{"id": "919847000001@c.us", "role": "participant"}]),
    ):
        httpserver.expect_oneshot_request(
            f"/api/default/groups/{group_id}/participants/v2", method="GET"
        ).respond_with_json(members)
    result = sync_groups(waha)
    httpserver.check_assertions()
    assert (result.created, result.updated, result.removed) == (1, 1, 1)
    technology.refresh_from_db()
    assert (technology.subject, technology.description, technology.only_admins_post) == (
        "Technology news",
        "Daily",
        True,
    )
    assert list(technology.participants.values_list("number", "is_admin")) == [
        ("919847012345", True)
    ]
    assert not WhatsAppGroup.objects.filter(pk=gone.pk).exists()
    cooking = WhatsAppGroup.objects.get(gateway_id=other)
    assert not cooking.only_admins_post and cooking.synced_at is not None


def test_admin_sync_action_names_the_gateway_error(admin_client, waha, httpserver):
    httpserver.expect_oneshot_request("/api/default/groups", method="GET").respond_with_json(
        {"statusCode": 422, "message": "Session status is not as expected"}, status=422
    )
    response = admin_client.post(
        "/admin/teambox/channel/",
        {"action": "sync_groups", "_selected_action": [waha.pk]},
        follow=True,
    )
    assert "Session status is not as expected" in response.content.decode()
    assert not WhatsAppGroup.objects.exists()


def test_admin_group_page_lists_members_and_children(admin_client, waha, technology):
    child = WhatsAppGroup.objects.create(
        channel=waha, gateway_id="120363000000000002@g.us", subject="Technology 1",
        parent=technology, position=1,
    )  # fmt: skip
    page = admin_client.get(f"/admin/teambox/whatsappgroup/{technology.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "919000000000" in html and "Technology 1" in html
    assert f"/admin/teambox/whatsappgroup/{child.pk}/change/" in html
    listing = admin_client.get("/admin/teambox/whatsappgroup/").content.decode()
    assert "Technology 1" in listing


def test_received_file_is_fetched_from_the_gateway_with_the_key(waha, httpserver):
    adapter = adapter_for(waha)
    url = httpserver.url_for("/api/files/default/false_919847012345@c.us_AAAA.jpeg")
    payload = {
        **MESSAGE_EVENT["payload"],
        "body": "",
        "hasMedia": True,
        "media": {"url": url, "mimetype": "image/jpeg", "filename": None},
    }
    [incoming] = adapter.parse_inbound({**MESSAGE_EVENT, "payload": payload})
    assert incoming.body == "[image]"
    media = adapter.inbound_media(incoming.payload)
    assert (media.kind, media.media_id, media.mime_type) == ("image", url, "image/jpeg")
    httpserver.expect_oneshot_request(
        "/api/files/default/false_919847012345@c.us_AAAA.jpeg", method="GET", headers=KEY
    ).respond_with_data(b"\xff\xd8jpeg", content_type="image/jpeg")
    fetched = adapter.fetch_media(media.media_id, 1024)
    assert (fetched.content, fetched.content_type) == (b"\xff\xd8jpeg", "image/jpeg")
    with pytest.raises(ChannelError, match="not on the channel's WhatsApp Web gateway"):
        adapter.fetch_media("https://elsewhere.example.com/api/files/x.jpeg", 1024)


def test_push_api_application_10_is_the_whatsapp_web_channel(waha, push, project):
    from teambox.push import channel_for_application
    from webhooks.inbound import application_of

    assert channel_for_application(project, "10") == waha
    assert channel_for_application(project, "1") == push
    assert application_of(waha) == "10"


def test_a_failed_ack_fails_the_message_and_own_messages_are_not_inbound(client, waha, project):
    from crm import services as crm

    asha = crm.upsert_contact(project, "919847012345")
    message = Message.objects.create(
        project=project, channel=waha, contact=asha, direction=Message.Direction.OUT,
        address="919847012345", body="Hi", status=Message.Status.SUBMITTED,
        provider_id="BAE5F5A632EAE722",
    )  # fmt: skip
    failed = {**ACK_EVENT, "payload": {**ACK_EVENT["payload"], "ack": -1, "ackName": "ERROR"}}
    assert post_webhook(client, waha, failed).json()["statuses"] == 1
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED and "WhatsApp reported an error" in message.error
    own = {**MESSAGE_EVENT, "payload": {**MESSAGE_EVENT["payload"], "fromMe": True}}
    assert post_webhook(client, waha, own).json()["messages"] == 0
    other_session = {**MESSAGE_EVENT, "session": "sales"}
    assert post_webhook(client, waha, other_session).json()["messages"] == 0


def test_another_projects_groups_are_invisible(client, member, project, other_project):
    theirs = Channel.objects.create(
        project=other_project, name="Theirs", kind=Channel.Kind.WHATSAPP_WEB,
        credentials={"base_url": "https://waha.example.com", "session": "default"},
    )  # fmt: skip
    group = WhatsAppGroup.objects.create(channel=theirs, gateway_id=GROUP, subject="Secret club")
    ours = WhatsAppGroup.objects.create(
        channel=Channel.objects.create(
            project=project, name="Ours", kind=Channel.Kind.WHATSAPP_WEB,
            credentials={"base_url": "https://waha.example.com", "session": "default"},
        ),
        gateway_id=GROUP, subject="Our club",
    )  # fmt: skip
    client.force_login(member)
    listing = client.get("/admin/teambox/whatsappgroup/").content.decode()
    assert "Our club" in listing and "Secret club" not in listing
    assert client.get(f"/admin/teambox/whatsappgroup/{ours.pk}/change/").status_code == 200
    assert client.get(f"/admin/teambox/whatsappgroup/{group.pk}/change/").status_code == 302
