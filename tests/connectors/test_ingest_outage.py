"""Without a database the ingest answers 503 with Retry-After, never a 500 and never a
200 for an event it could not store (the restart drill in bench/drills does it for real)."""

import socket

import pytest
from django.db import connection

from connectors.models import Event


def unused_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_is_a_503_to_retry(client, connector):
    if connection.vendor != "postgresql":
        pytest.skip("an in-memory SQLite database cannot be taken away and given back")
    url = f"/hooks/{connector.token}"
    saved_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = unused_port()  # nothing listens there
    try:
        response = client.post(url, data={"a": 1}, content_type="application/json")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = saved_port
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"] == "unavailable"
    assert Event.objects.count() == 0

    again = client.post(url, data={"a": 1}, content_type="application/json")
    assert again.status_code == 200
    assert Event.objects.get().payload == {"a": 1}
