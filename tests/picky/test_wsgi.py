"""The WSGI application: the connector URLs on their own lean handler, the site as usual."""

import importlib
import io
import json
from wsgiref.util import setup_testing_defaults

import pytest

from connectors import queue
from connectors.models import Event


@pytest.fixture
def application(monkeypatch):
    """picky.wsgi's application; the events batcher it sets up is this test's only."""
    monkeypatch.setattr(queue, "_event_batcher", queue._event_batcher)
    return importlib.import_module("picky.wsgi").application


def call(application, path, method="GET", body=b"", content_type="application/json"):
    environ = {
        "PATH_INFO": path,
        "REQUEST_METHOD": method,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    chunks = application(environ, start_response)
    try:
        answer["body"] = b"".join(chunks)
    finally:
        chunks.close()
    return answer


@pytest.mark.django_db(transaction=True)
def test_a_webhook_is_served_without_the_sites_middleware(application, connector):
    answer = call(application, f"/hooks/{connector.token}", "POST", b'{"name": "Asha"}')
    assert answer["status"] == 200
    event = Event.objects.get(pk=json.loads(answer["body"])["event"])
    assert event.payload == {"name": "Asha"}
    # No session cookie, CSRF check or frame options on a webhook's answer.
    assert "X-Frame-Options" not in answer["headers"]
    assert "Set-Cookie" not in answer["headers"]


@pytest.mark.django_db(transaction=True)
def test_webhook_errors_are_still_answered_as_json(application):
    answer = call(application, "/hooks/no-such-token", "POST", b"{}")
    assert answer["status"] == 404
    assert json.loads(answer["body"])["error"] == "unknown_connector"


@pytest.mark.django_db(transaction=True)
def test_the_rest_of_the_site_keeps_its_middleware(application):
    answer = call(application, "/admin/login/")
    assert answer["status"] == 200
    assert answer["headers"]["X-Frame-Options"] == "DENY"
    assert "csrftoken" in answer["headers"].get("Set-Cookie", "")
