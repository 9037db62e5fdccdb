import json

import pytest

from connectors.models import Event


def post_json(client, connector, body, **extra):
    return client.post(
        f"/hooks/{connector.token}", data=body, content_type="application/json", **extra
    )


@pytest.mark.django_db
class TestAccepted:
    def test_json_body_is_stored_and_acknowledged(self, client, connector):
        response = post_json(client, connector, {"name": "Asha", "phone": "919847012345"})
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "accepted"
        event = Event.objects.get(pk=int(body["event"]))
        assert event.payload == {"name": "Asha", "phone": "919847012345"}
        assert event.status == Event.Status.QUEUED
        assert event.method == "POST"
        assert event.source_ip == "127.0.0.1"

    def test_query_string_get(self, client, connector):
        response = client.get(f"/hooks/{connector.token}?name=Asha&tag=a&tag=b")
        assert response.status_code == 200
        event = Event.objects.get()
        assert event.payload == {"name": "Asha", "tag": ["a", "b"]}

    def test_form_body_merges_with_query_string(self, client, connector):
        response = client.post(
            f"/hooks/{connector.token}?source=ads",
            data="name=Asha&product=Lamp&product=Fan",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200
        assert Event.objects.get().payload == {
            "source": "ads",
            "name": "Asha",
            "product": ["Lamp", "Fan"],
        }

    def test_multipart_form(self, client, connector):
        response = client.post(f"/hooks/{connector.token}", data={"name": "Asha"})
        assert response.status_code == 200
        assert Event.objects.get().payload == {"name": "Asha"}

    @pytest.mark.parametrize("body", [[1, 2], "text", 42, None])
    def test_array_and_scalar_bodies_are_wrapped(self, client, connector, body):
        response = client.post(
            f"/hooks/{connector.token}", data=json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 200
        assert Event.objects.get().payload == {"data": body}

    def test_json_sent_as_text_plain_is_accepted(self, client, connector):
        response = client.post(
            f"/hooks/{connector.token}", data='{"a": 1}', content_type="text/plain"
        )
        assert response.status_code == 200
        assert Event.objects.get().payload == {"a": 1}

    def test_first_payload_becomes_the_sample(self, client, connector):
        post_json(
            client,
            connector,
            {
                "customer": {"email": "a@b.c"},
                "items": [{"sku": "X1"}],
                "Product Interested": "Lamp",
            },
        )
        connector.refresh_from_db()
        assert connector.sample_payload["customer"] == {"email": "a@b.c"}
        assert "event.customer.email" in connector.mapped_paths
        assert "event.items[0].sku" in connector.mapped_paths
        assert 'event."Product Interested"' in connector.mapped_paths
        post_json(client, connector, {"other": 1})
        connector.refresh_from_db()
        assert "event.customer.email" in connector.mapped_paths


@pytest.mark.django_db
class TestRejected:
    def test_malformed_json_names_line_and_column(self, client, connector):
        response = client.post(
            f"/hooks/{connector.token}",
            data='{\n  "a": 1,\n  "b": }',
            content_type="application/json",
        )
        assert response.status_code == 400
        body = response.json()
        assert body["error"] == "malformed_json"
        assert "line 3, column 8" in body["message"]
        event = Event.objects.get()
        assert event.status == Event.Status.REJECTED
        assert event.raw_body == '{\n  "a": 1,\n  "b": }'
        assert "line 3" in event.error

    def test_body_over_the_limit(self, client, connector, settings):
        settings.PICKY_MAX_PAYLOAD_BYTES = 100
        response = post_json(client, connector, {"x": "y" * 200})
        assert response.status_code == 413
        event = Event.objects.get()
        assert event.status == Event.Status.REJECTED
        assert event.raw_body.startswith('{"x": "yyy')

    def test_unsupported_content_type(self, client, connector):
        response = client.post(
            f"/hooks/{connector.token}", data="<a/>", content_type="application/xml"
        )
        assert response.status_code == 415
        assert response.json()["error"] == "unsupported_content_type"
        assert Event.objects.get().status == Event.Status.REJECTED

    def test_invalid_utf8(self, client, connector):
        response = client.post(
            f"/hooks/{connector.token}", data=b'{"a": "\xff"}', content_type="application/json"
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_encoding"

    def test_unknown_token(self, client, connector):
        response = client.post("/hooks/not-a-token", data="{}", content_type="application/json")
        assert response.status_code == 404
        assert response.json()["error"] == "unknown_connector"

    def test_disabled_connector_is_gone_but_logged(self, client, connector):
        connector.enabled = False
        connector.save()
        response = post_json(client, connector, {"a": 1})
        assert response.status_code == 410
        event = Event.objects.get()
        assert event.status == Event.Status.REJECTED
        assert event.raw_body == '{"a": 1}'

    def test_other_methods_are_refused_and_logged(self, client, connector):
        response = client.put(
            f"/hooks/{connector.token}", data="{}", content_type="application/json"
        )
        assert response.status_code == 405
        assert response["Allow"] == "GET, POST"
        event = Event.objects.get()
        assert event.status == Event.Status.REJECTED
        assert event.error == "Method PUT is not allowed; send the webhook with GET or POST."

    def test_an_unknown_or_disabled_connector_is_said_before_what_is_wrong_with_the_body(
        self, client, connector
    ):
        bad = {"data": "{", "content_type": "application/json"}
        assert client.post("/hooks/not-a-token", **bad).status_code == 404
        assert client.put("/hooks/not-a-token", **bad).status_code == 404
        connector.enabled = False
        connector.save()
        assert client.post(f"/hooks/{connector.token}", **bad).status_code == 410
        assert client.put(f"/hooks/{connector.token}", **bad).status_code == 410
        assert [e.error for e in Event.objects.order_by("pk")] == [
            "This connector is disabled.",
            "This connector is disabled.",
        ]
        assert not Event.objects.filter(status=Event.Status.QUEUED).exists()


def test_connector_token_has_at_least_128_random_bits(db, project):
    from connectors.models import Connector

    tokens = {Connector.objects.create(project=project, name=f"c{i}").token for i in range(50)}
    assert len(tokens) == 50
    # token_urlsafe(32): 32 random bytes, 43 URL-safe characters.
    assert all(len(t) >= 43 for t in tokens)
