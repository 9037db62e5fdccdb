"""The WhatsApp Web (WAHA) adapter against a local server speaking WAHA's wire format."""

import pytest

from teambox import services
from teambox.channels import ChannelError, adapter_for
from teambox.models import Channel, Message

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
