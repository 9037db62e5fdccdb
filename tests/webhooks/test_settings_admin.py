"""The webhook settings page: the secret is write-only and required with a URL, events
need the event URL, and enabling disabled webhooks again gives the receiver a fresh start."""

from django.urls import reverse
from django.utils import timezone

from webhooks.models import WebhookSettings


def form(project, **fields):
    return {
        "project": project.pk,
        "event_url": "https://hooks.example/picky",
        "events": ["1", "4"],
        "secret": "",
        "inbound_url": "",
        "enabled": "on",
        **fields,
    }


def test_the_secret_is_write_only_and_required_with_a_url(client, member, project):
    client.force_login(member)
    add = reverse("admin:webhooks_webhooksettings_add")
    refused = client.post(add, form(project))
    assert "Type a secret" in refused.content.decode()
    refused = client.post(add, form(project, event_url="", secret="s3cret"))
    assert "Give the URL the chosen events are sent to." in refused.content.decode()
    assert client.post(add, form(project, secret="s3cret-value")).status_code == 302
    hooks = WebhookSettings.objects.get(project=project)
    assert (hooks.secret, hooks.events) == ("s3cret-value", [1, 4])
    change = reverse("admin:webhooks_webhooksettings_change", args=[hooks.pk])
    assert "s3cret-value" not in client.get(change).content.decode()
    # Sent back empty, the saved secret stays.
    assert client.post(change, form(project, events=["1"])).status_code == 302
    hooks.refresh_from_db()
    assert (hooks.secret, hooks.events) == ("s3cret-value", [1])


def test_enabling_disabled_webhooks_again_clears_the_failure(client, member, project):
    hooks = WebhookSettings.objects.create(
        project=project,
        event_url="https://hooks.example/picky",
        events=[1],
        secret="s",
        enabled=False,
        disabled_at=timezone.now(),
        failing_since=timezone.now(),
    )
    client.force_login(member)
    change = reverse("admin:webhooks_webhooksettings_change", args=[hooks.pk])
    assert client.post(change, form(project, events=["1"])).status_code == 302
    hooks.refresh_from_db()
    assert hooks.enabled and hooks.disabled_at is None and hooks.failing_since is None
