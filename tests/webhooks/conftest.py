import hashlib
import hmac
import json

import pytest

from webhooks.models import WebhookSettings

SECRET = "whsec-test-0123456789"


@pytest.fixture
def local_outbound(settings):
    """Let the outbound client reach pytest-httpserver on 127.0.0.1."""
    settings.PICKY_OUTBOUND_ALLOWLIST = ["127.0.0.1"]


@pytest.fixture
def eager():
    """Tasks run in-process when published (after the commit that publishes them)."""
    from picky.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


def receiver_url(httpserver, path="/hooks/picky"):
    return httpserver.url_for(path).replace("localhost", "127.0.0.1")


@pytest.fixture
def hooks(project, httpserver, local_outbound):
    return WebhookSettings.objects.create(
        project=project,
        event_url=receiver_url(httpserver),
        events=[1, 3, 4],
        secret=SECRET,
    )


def verified(request, secret=SECRET):
    """The JSON body of a delivery whose X-Picky-Signature holds, as README shows."""
    parts = dict(item.split("=", 1) for item in request.headers["X-Picky-Signature"].split(","))
    body = request.get_data(as_text=True)
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected), "bad signature"
    return json.loads(body)
