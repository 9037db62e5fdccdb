"""Admin of channels, messages and broadcasts."""

import pytest

from crm import services as crm
from teambox.models import Broadcast, Channel, Message


@pytest.fixture
def logged_in(client, member):
    client.force_login(member)
    return client


def test_channel_credentials_are_checked_per_kind(logged_in, project):
    form = {
        "project": project.pk,
        "name": "WhatsApp",
        "kind": "whatsapp_cloud",
        "credentials": '{"access_token": "t", "verify_token": "short"}',
        "enabled": "on",
    }
    page = logged_in.post("/admin/teambox/channel/add/", form).content.decode()
    assert "phone_number_id: This field is required." in page
    assert "verify_token: Ensure this value has at least 8 characters" in page
    form["credentials"] = (
        '{"phone_number_id": "1065", "access_token": "t", "verify_token": "long-enough"}'
    )
    assert logged_in.post("/admin/teambox/channel/add/", form).status_code == 302
    channel = Channel.objects.get()
    assert channel.daily_cap == 1000
    page = logged_in.get(f"/admin/teambox/channel/{channel.pk}/change/").content.decode()
    assert channel.webhook_url in page


def test_retry_failed_messages(logged_in, project, sandbox, asha):
    failed = Message.objects.create(
        project=project,
        channel=sandbox,
        contact=asha,
        direction="out",
        address=asha.number,
        body="Hi",
        status="failed",
        error="Sending was interrupted",
    )
    response = logged_in.post(
        "/admin/teambox/message/",
        {"action": "retry", "_selected_action": [failed.pk]},
        follow=True,
    )
    assert "1 failed message queued again." in response.content.decode()
    failed.refresh_from_db()
    assert (failed.status, failed.error) == ("queued", "")


def test_broadcast_is_created_started_and_shows_progress(
    logged_in, project, sandbox, eager_celery, django_capture_on_commit_callbacks
):
    for number, name in (("919800000001", "Anu"), ("919800000002", "Binu")):
        crm.add_tags(crm.upsert_contact(project, number, name=name), ["VIP"])
    crm.set_blacklisted(crm.find_contact(project, "919800000002"), True)
    form = {
        "project": project.pk,
        "channel": sandbox.pk,
        "name": "VIP news",
        "segment": '{"tags": ["VIP"]}',
        "body": "Hi {{ contact.name }}",
        "template_language": "en",
        "template_params": "[]",
        "batch_size": 200,
    }
    bad = logged_in.post("/admin/teambox/broadcast/add/", {**form, "segment": '{"tag": "x"}'})
    assert "tag: Unknown segment key" in bad.content.decode()
    assert logged_in.post("/admin/teambox/broadcast/add/", form).status_code == 302
    broadcast = Broadcast.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(
            "/admin/teambox/broadcast/",
            {"action": "start", "_selected_action": [broadcast.pk]},
            follow=True,
        )
    assert "VIP news: sending started." in response.content.decode()
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.sent, broadcast.skipped) == ("done", 1, 1)
    page = logged_in.get(f"/admin/teambox/broadcast/{broadcast.pk}/change/").content.decode()
    assert "delivered: 1" in page
    assert "1 × The contact is blacklisted." in page
    assert '<progress max="2" value="2"' in page


def test_another_projects_channel_is_invisible(logged_in, other_project):
    theirs = Channel.objects.create(project=other_project, name="Theirs", kind="sandbox")
    assert logged_in.get(f"/admin/teambox/channel/{theirs.pk}/change/").status_code == 302
    listing = logged_in.get("/admin/teambox/channel/").content.decode()
    assert "Theirs" not in listing
