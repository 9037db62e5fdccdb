"""A channel's secret credentials are write-only in the admin."""

import json

import pytest

from teambox.models import Channel

SECRETS = {
    "access_token": "EAAG-access-never-shown",
    "verify_token": "verify-never-shown",
    "app_secret": "app-secret-never-shown",
}


@pytest.fixture
def whatsapp(project):
    return Channel.objects.create(
        project=project,
        name="WhatsApp",
        kind="whatsapp_cloud",
        credentials={"phone_number_id": "1065", **SECRETS},
    )


@pytest.fixture
def logged_in(client, member):
    client.force_login(member)
    return client


def change_url(channel):
    return f"/admin/teambox/channel/{channel.pk}/change/"


def shown_credentials(client, channel):
    """The credentials as the change page shows them in its JSON box."""
    form = client.get(change_url(channel)).context["adminform"].form
    return json.loads(form["credentials"].value())


def channel_form(channel, credentials, **overrides):
    return {
        "project": channel.project_id,
        "name": channel.name,
        "kind": channel.kind,
        "credentials": json.dumps(credentials),
        "daily_cap": channel.daily_cap or "",
        "enabled": "on",
        **overrides,
    }


@pytest.mark.django_db
def test_no_page_shows_a_secret(logged_in, whatsapp):
    pages = [
        change_url(whatsapp),
        "/admin/teambox/channel/",
        f"/admin/teambox/channel/{whatsapp.pk}/history/",
        f"/admin/teambox/channel/{whatsapp.pk}/delete/",
    ]
    for url in pages:
        html = logged_in.get(url).content.decode()
        for secret in SECRETS.values():
            assert secret not in html, url
    assert "•••••• (saved; type to replace)" in logged_in.get(pages[0]).content.decode()


@pytest.mark.django_db
def test_saving_unchanged_keeps_the_secrets_and_typing_replaces_one(logged_in, whatsapp):
    shown = shown_credentials(logged_in, whatsapp)
    response = logged_in.post(change_url(whatsapp), channel_form(whatsapp, shown, name="WA"))
    assert response.status_code == 302
    whatsapp.refresh_from_db()
    assert (whatsapp.name, whatsapp.credentials) == ("WA", {"phone_number_id": "1065", **SECRETS})

    typed = {**shown, "access_token": "EAAG-rotated"}
    assert logged_in.post(change_url(whatsapp), channel_form(whatsapp, typed)).status_code == 302
    whatsapp.refresh_from_db()
    assert whatsapp.credentials == {
        "phone_number_id": "1065",
        **SECRETS,
        "access_token": "EAAG-rotated",
    }


@pytest.mark.django_db
def test_a_form_with_an_error_still_hides_the_saved_secrets(logged_in, whatsapp):
    shown = shown_credentials(logged_in, whatsapp)
    page = logged_in.post(change_url(whatsapp), channel_form(whatsapp, shown, name=""))
    html = page.content.decode()
    assert page.status_code == 200 and "This field is required." in html
    for secret in SECRETS.values():
        assert secret not in html


@pytest.mark.django_db
def test_a_mask_where_nothing_is_saved_asks_for_the_value(logged_in, project, whatsapp):
    credentials = {"url": "https://push.example/api", "token": "•••••• (saved; type to replace)"}
    page = logged_in.post(
        "/admin/teambox/channel/add/",
        channel_form(whatsapp, credentials, name="Push", kind="push_api"),
    )
    assert page.status_code == 200
    assert "token: type the value" in page.content.decode()
    assert not Channel.objects.filter(name="Push").exists()


@pytest.mark.django_db
def test_push_api_token_is_masked(logged_in, project):
    push = Channel.objects.create(
        project=project,
        name="Push",
        kind="push_api",
        credentials={"url": "https://push.example/api", "token": "push-never-shown"},
    )
    assert shown_credentials(logged_in, push) == {
        "url": "https://push.example/api",
        "token": "•••••• (saved; type to replace)",
    }
