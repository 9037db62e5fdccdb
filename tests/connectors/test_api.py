import copy
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models.signals import pre_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from actions.registry import all_types
from connectors import engine, services
from connectors.models import Connector, Event, Run
from connectors.transfer import export_connector
from picky.models import ApiToken
from tests.api_client import api_client
from tests.builders import build_connector
from tests.connectors.test_transfer import DOCUMENT

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(project):
    return api_client(project)


@pytest.fixture
def foreign_connector(other_project):
    return Connector.objects.create(project=other_project, name="Theirs")


def ingest(connector, payload):
    return services.record_event(
        connector, payload, method="POST", headers={}, source_ip="203.0.113.9"
    )


def make_event(connector, minutes_ago, status=Event.Status.PROCESSED):
    return Event.objects.create(
        project=connector.project,
        connector=connector,
        payload={"n": minutes_ago},
        method="POST",
        received_at=timezone.now() - timedelta(minutes=minutes_ago),
        status=status,
    )


class TestAuthentication:
    def test_no_token_is_401_with_a_clear_message(self, project):
        response = APIClient().get("/api/v1/connectors")
        assert response.status_code == 401
        assert "Authorization: Bearer <api token>" in response.json()["detail"]
        assert response["WWW-Authenticate"] == "Bearer"

    def test_unknown_token_is_401(self, project):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Bearer pk_not-a-real-token")
        response = client.get("/api/v1/connectors")
        assert response.status_code == 401
        assert response.json() == {"detail": "Unknown or revoked API token."}

    def test_revoked_token_is_401(self, project, api):
        ApiToken.objects.update(revoked=True)
        assert api.get("/api/v1/connectors").status_code == 401

    def test_malformed_header_is_401(self, project):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Bearer two words")
        response = client.get("/api/v1/connectors")
        assert response.status_code == 401
        assert "Bearer <api token>" in response.json()["detail"]

    def test_an_ip_bound_token_works_only_from_its_address(self, project, connector):
        elsewhere = api_client(project, allowed_ip="198.51.100.7", remote_addr="127.0.0.1")
        response = elsewhere.get("/api/v1/connectors")
        assert response.status_code == 401
        assert response.json() == {"detail": "This API token is not allowed from your IP."}

        _, raw = ApiToken.issue(project, "bound", allowed_ip="198.51.100.7")
        bound = APIClient(REMOTE_ADDR="198.51.100.7")
        bound.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert bound.get("/api/v1/connectors").status_code == 200

    def test_using_a_token_records_when(self, project, api):
        api.get("/api/v1/connectors")
        assert ApiToken.objects.get().last_used_at is not None

    def test_an_unknown_path_answers_json(self, api):
        response = api.get("/api/v1/connectors/")
        assert response.status_code == 404
        assert "no trailing slash" in response.json()["detail"]


class TestConnectors:
    def test_list_shows_only_the_token_projects_connectors(self, api, connector, foreign_connector):
        response = api.get("/api/v1/connectors")
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 1
        [item] = body["results"]
        assert item["id"] == connector.pk
        assert item["name"] == "Leads"
        assert item["token"] == connector.token
        assert item["url"] == connector.url
        assert item["url"].endswith(f"/hooks/{connector.token}")

    def test_read_shows_the_sample_and_mapped_paths(self, api, connector):
        ingest(connector, {"customer": {"email": "a@b.co"}, "Product Interested": "Lamp"})
        response = api.get(f"/api/v1/connectors/{connector.pk}")
        assert response.status_code == 200
        body = response.json()
        assert body["sample_payload"] == {
            "customer": {"email": "a@b.co"},
            "Product Interested": "Lamp",
        }
        assert body["mapped_paths"] == ["event.customer.email", 'event."Product Interested"']
        assert set(body) == {
            "id", "name", "description", "enabled", "token", "url", "sample_payload",
            "mapped_paths", "structure_changed", "field_mapping", "created_at", "updated_at",
        }  # fmt: skip

    def test_create(self, api, project):
        response = api.post(
            "/api/v1/connectors",
            {"name": " Orders ", "field_mapping": {"number": "{{ event.phone }}"}},
            format="json",
        )
        assert response.status_code == 201, response.json()
        connector = Connector.objects.get(pk=response.json()["id"])
        assert connector.project == project
        assert connector.name == "Orders"
        assert connector.field_mapping == {"number": "{{ event.phone }}"}
        assert len(connector.token) >= 22

    def test_create_ignores_read_only_fields(self, api):
        response = api.post(
            "/api/v1/connectors",
            {"name": "Orders", "token": "mine", "sample_payload": {"a": 1}},
            format="json",
        )
        assert response.status_code == 201
        connector = Connector.objects.get(name="Orders")
        assert connector.token != "mine"
        assert connector.sample_payload is None

    def test_create_with_a_taken_name_is_400(self, api, connector, foreign_connector):
        response = api.post("/api/v1/connectors", {"name": "Leads"}, format="json")
        assert response.status_code == 400
        assert response.json() == {
            "name": ["A connector named 'Leads' already exists in this project."]
        }
        other_projects_name = api.post("/api/v1/connectors", {"name": "Theirs"}, format="json")
        assert other_projects_name.status_code == 201

    def test_a_name_taken_while_saving_is_400_not_500(self, api, project):
        def take_the_name_first(sender, instance, **kwargs):
            if instance.pk is None:
                Connector.objects.bulk_create([Connector(project=project, name=instance.name)])

        pre_save.connect(take_the_name_first, sender=Connector)
        try:
            response = api.post("/api/v1/connectors", {"name": "Orders"}, format="json")
        finally:
            pre_save.disconnect(take_the_name_first, sender=Connector)
        assert response.status_code == 400
        assert response.json() == {
            "name": ["A connector named 'Orders' already exists in this project."]
        }

    @pytest.mark.parametrize(
        "mapping, message",
        [
            ({"number": "{{ event.phone[ }}"}, "field_mapping.number: Invalid path"),
            ({"telephone": "{{ event.phone }}"}, "field_mapping.telephone: unknown key"),
            ({"attributes": {"city": 5, "state": "{{ a | }}"}}, "field_mapping.attributes.state"),
            ([], "field_mapping: must be an object, not a list"),
        ],
    )
    def test_field_mapping_templates_are_validated(self, api, mapping, message):
        response = api.post(
            "/api/v1/connectors", {"name": "Orders", "field_mapping": mapping}, format="json"
        )
        assert response.status_code == 400
        [error] = response.json()["field_mapping"]
        assert error.startswith(message)
        assert not Connector.objects.filter(name="Orders").exists()

    def test_update(self, api, connector):
        response = api.patch(
            f"/api/v1/connectors/{connector.pk}",
            {"enabled": False, "field_mapping": {"email": "{{ event.email }}"}},
            format="json",
        )
        assert response.status_code == 200
        connector.refresh_from_db()
        assert connector.enabled is False
        assert connector.field_mapping == {"email": "{{ event.email }}"}

    def test_rename_to_its_own_name_is_fine_but_not_to_a_taken_one(self, api, connector, project):
        Connector.objects.create(project=project, name="Orders")
        same = api.put(f"/api/v1/connectors/{connector.pk}", {"name": "Leads"}, format="json")
        assert same.status_code == 200
        taken = api.patch(f"/api/v1/connectors/{connector.pk}", {"name": "Orders"}, format="json")
        assert taken.status_code == 400
        assert "already exists" in taken.json()["name"][0]

    def test_delete(self, api, connector):
        ingest(connector, {"a": 1})
        response = api.delete(f"/api/v1/connectors/{connector.pk}")
        assert response.status_code == 204
        assert not Connector.objects.filter(pk=connector.pk).exists()
        assert not Event.objects.exists()

    @pytest.mark.parametrize(
        "method, suffix",
        [("get", ""), ("patch", ""), ("put", ""), ("delete", ""), ("get", "/export"),
         ("get", "/events")],
    )  # fmt: skip
    def test_another_projects_connector_is_not_found(self, api, foreign_connector, method, suffix):
        response = getattr(api, method)(
            f"/api/v1/connectors/{foreign_connector.pk}{suffix}",
            {"name": "Hijacked", "enabled": False},
            format="json",
        )
        assert response.status_code == 404
        assert response.json() == {
            "detail": f"No connector with id {foreign_connector.pk} in this project."
        }
        foreign_connector.refresh_from_db()
        assert foreign_connector.name == "Theirs"
        assert foreign_connector.enabled is True


class TestImportExport:
    def test_import_answers_201_with_the_representation(self, api, project):
        response = api.post("/api/v1/connectors/import", DOCUMENT, format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        connector = Connector.objects.get(pk=body["id"])
        assert connector.project == project
        assert body["name"] == "Website leads"
        assert body["url"] == connector.url
        assert export_connector(connector) == DOCUMENT

    def test_import_under_another_name(self, api, project):
        api.post("/api/v1/connectors/import", DOCUMENT, format="json")
        clash = api.post("/api/v1/connectors/import", DOCUMENT, format="json")
        assert clash.status_code == 400
        assert clash.json()["errors"] == [
            {
                "path": "name",
                "message": "A connector named 'Website leads' already exists in this project; "
                "import it under another name",
            }
        ]
        renamed = api.post("/api/v1/connectors/import?name=Leads+2", DOCUMENT, format="json")
        assert renamed.status_code == 201
        assert renamed.json()["name"] == "Leads 2"

    def test_invalid_json_answers_400_with_every_error_and_its_path(self, api):
        data = copy.deepcopy(DOCUMENT)
        data["format"] = "picky.connector/v0"
        data["steps"][1]["actions"][0]["config"]["amount"] = "lots"
        response = api.post("/api/v1/connectors/import", data, format="json")
        assert response.status_code == 400
        assert response.json() == {
            "detail": "The connector JSON has 2 problems.",
            "errors": [
                {"path": "format", "message": 'must be "picky.connector/v1"'},
                {"path": "steps[1].actions[0].config.amount", "message": "Enter a whole number."},
            ],
        }
        assert not Connector.objects.exists()

    def test_a_pattern_re2_cannot_take_is_400_with_its_path(self, api):
        data = copy.deepcopy(DOCUMENT)
        data["steps"][0]["filters"][0][0] = {
            "field": "{{ event.name }}",
            "op": "matches_regex",
            "value": "(\\w)\\1",
        }
        response = api.post("/api/v1/connectors/import", data, format="json")
        assert response.status_code == 400
        [error] = response.json()["errors"]
        assert error["path"] == "steps[0].filters[0][0].value"
        assert error["message"].startswith("This pattern uses a backreference (\\1)")
        assert not Connector.objects.exists()

    def test_a_body_that_is_not_json_is_400(self, api):
        response = api.post(
            "/api/v1/connectors/import", "{not json", content_type="application/json"
        )
        assert response.status_code == 400
        assert response.json()["detail"].startswith("Not valid JSON: Expecting property name")

    def test_a_body_that_is_a_list_is_400(self, api):
        response = api.post("/api/v1/connectors/import", [DOCUMENT], format="json")
        assert response.status_code == 400
        assert response.json()["errors"] == [
            {"path": "", "message": "the connector JSON must be an object, not a list"}
        ]

    def test_export(self, api, project):
        imported = api.post("/api/v1/connectors/import", DOCUMENT, format="json").json()
        response = api.get(f"/api/v1/connectors/{imported['id']}/export")
        assert response.status_code == 200
        assert response.json() == DOCUMENT


class TestEvents:
    def test_events_are_newest_first_and_paginated(self, api, connector):
        ids = [make_event(connector, minutes_ago).pk for minutes_ago in (30, 10, 20)]
        response = api.get(f"/api/v1/connectors/{connector.pk}/events?limit=2")
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 3
        assert [e["id"] for e in body["results"]] == [ids[1], ids[2]]
        rest = api.get(body["next"]).json()
        assert [e["id"] for e in rest["results"]] == [ids[0]]

    def test_events_filtered_by_status(self, api, connector):
        make_event(connector, 1, status=Event.Status.REJECTED)
        processed = make_event(connector, 2)
        response = api.get(f"/api/v1/connectors/{connector.pk}/events?status=processed")
        assert [e["id"] for e in response.json()["results"]] == [processed.pk]

    def test_an_unknown_status_is_400(self, api, connector):
        response = api.get(f"/api/v1/connectors/{connector.pk}/events?status=done")
        assert response.status_code == 400
        assert response.json() == {
            "status": [
                "'done' is not an event status; use one of queued, processing, processed, rejected."
            ]
        }

    def test_an_event_shows_its_payload_and_runs_with_their_logs(self, api, project):
        connector = build_connector(
            project,
            steps=[
                {"name": "Greet", "actions": [("set_variable",
                                               {"name": "hi", "value": "Hi {{ event.name }}"})]},
                {"name": "Only Goa", "filters": [[{"field": "{{ event.state }}", "op": "equals",
                                                   "value": "Goa"}]],
                 "actions": [("stop_processing", {})]},
            ],
        )  # fmt: skip
        event = ingest(connector, {"name": "Asha", "state": "Kerala"})
        engine.process_event(event.pk)

        response = api.get(f"/api/v1/events/{event.pk}")

        assert response.status_code == 200
        body = response.json()
        assert body["payload"] == {"name": "Asha", "state": "Kerala"}
        assert body["status"] == "processed"
        assert body["source_ip"] == "203.0.113.9"
        assert body["method"] == "POST"
        assert body["connector"] == connector.pk
        [run] = body["runs"]
        assert run["status"] == "succeeded"
        assert run["replay_of"] is None
        logs = [
            (log["kind"], log["step_name"], log["action_type"], log["status"])
            for log in run["logs"]
        ]
        assert ("action", "Greet", "set_variable", "ran") in logs
        assert ("step", "Only Goa", "", "skipped") in logs
        greeting = next(log for log in run["logs"] if log["action_type"] == "set_variable")
        assert greeting["inputs"]["value"] == "Hi Asha"

    def test_reading_an_event_takes_the_same_queries_however_many_runs(self, api, project):
        connector = build_connector(
            project, steps=[{"actions": [("set_variable", {"name": "a", "value": "1"})]}]
        )
        event = ingest(connector, {})
        engine.process_event(event.pk)
        api.get(f"/api/v1/events/{event.pk}")

        def queries():
            with CaptureQueriesContext(connection) as captured:
                assert api.get(f"/api/v1/events/{event.pk}").status_code == 200
            return len(captured)

        one_run = queries()
        for _ in range(3):
            engine.continue_run(engine.replay_event(event).pk)
        assert Run.objects.filter(event=event).count() == 4
        assert queries() == one_run

    def test_a_rejected_event_shows_why(self, api, connector):
        event = services.record_rejected_event(
            connector, method="POST", headers={}, source_ip="127.0.0.1",
            raw_body="{oops", reason="Malformed JSON at line 1, column 2.",
        )  # fmt: skip
        body = api.get(f"/api/v1/events/{event.pk}").json()
        assert body["status"] == "rejected"
        assert body["payload"] is None
        assert body["raw_body"] == "{oops"
        assert body["error"] == "Malformed JSON at line 1, column 2."
        assert body["runs"] == []

    def test_another_projects_event_is_not_found(self, api, foreign_connector):
        event = make_event(foreign_connector, 1)
        for response in (
            api.get(f"/api/v1/events/{event.pk}"),
            api.post(f"/api/v1/events/{event.pk}/replay"),
        ):
            assert response.status_code == 404
            assert response.json() == {"detail": f"No event with id {event.pk} in this project."}
        assert not Run.objects.exists()


class TestReplay:
    def test_replay_answers_202_with_the_new_run(
        self, api, project, django_capture_on_commit_callbacks
    ):
        connector = build_connector(
            project, steps=[{"actions": [("trigger_counter", {"name": "leads"})]}]
        )
        event = ingest(connector, {})
        engine.process_event(event.pk)
        original = Run.objects.get(event=event)

        with django_capture_on_commit_callbacks() as callbacks:
            response = api.post(f"/api/v1/events/{event.pk}/replay")

        assert response.status_code == 202
        body = response.json()
        replay = Run.objects.get(pk=body["run"])
        assert body == {
            "run": replay.pk,
            "event": event.pk,
            "status": "queued",
            "from": "start",
            "resumed_run": None,
        }
        assert replay.replay_of == original
        assert len(callbacks) == 1  # the run is handed to a worker once committed

    def test_a_rejected_event_cannot_be_replayed(self, api, connector):
        event = make_event(connector, 1, status=Event.Status.REJECTED)
        event.error = "The connector is disabled."
        event.save()
        response = api.post(f"/api/v1/events/{event.pk}/replay")
        assert response.status_code == 409
        assert response.json() == {
            "detail": f"Event {event.pk} was rejected (The connector is disabled.); "
            "it has no payload to replay."
        }
        assert not Run.objects.exists()

    def test_replay_needs_post(self, api, connector):
        event = make_event(connector, 1)
        response = api.get(f"/api/v1/events/{event.pk}/replay")
        assert response.status_code == 405
        assert response.json() == {"detail": 'Method "GET" not allowed.'}


class TestActionTypes:
    def test_lists_every_registered_type_with_its_config_fields(self, api):
        response = api.get("/api/v1/action-types")
        assert response.status_code == 200
        types = {item["key"]: item for item in response.json()}
        assert set(types) == set(all_types())

        email = types["send_email"]
        assert email["label"] == "Send Email"
        assert email["category"] == "Notification"
        assert email["effect"] == "outside"
        fields = {field["name"]: field for field in email["fields"]}
        assert fields["subject"] == {
            "name": "subject", "label": "Subject", "type": "string", "required": True, "help": "",
        }  # fmt: skip
        assert fields["to"]["type"] == "templated_email_list"
        assert fields["to"]["help"] == "Up to 10 addresses (templates allowed)."
        assert fields["html"]["type"] == "boolean"
        assert fields["html"]["required"] is False
        assert fields["fallback"]["choices"] == [
            {"value": "stop", "label": "Stop executing further steps"},
            {"value": "continue", "label": "Continue further steps"},
        ]
        assert types["trigger_counter"]["effect"] == "shared_row"
        counter_fields = {f["name"]: f["type"] for f in types["trigger_counter"]["fields"]}
        assert counter_fields["amount"] == "integer"
        assert types["set_variable"]["effect"] == "none"
        assert types["add_tag"]["effect"] == "database"
        assert "has_outside_effects" not in email

    def test_needs_a_token(self, project):
        assert APIClient().get("/api/v1/action-types").status_code == 401


class TestSchemaAndDocs:
    def test_the_schema_generates_without_warnings_and_validates(self, tmp_path):
        target = tmp_path / "schema.yaml"
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
        text = target.read_text()
        for path in (
            "/api/v1/connectors:", "/api/v1/connectors/{id}:", "/api/v1/connectors/import:",
            "/api/v1/connectors/{id}/export:", "/api/v1/connectors/{id}/events:",
            "/api/v1/events/{id}:", "/api/v1/events/{id}/replay:", "/api/v1/project:",
            "/api/v1/action-types:",
        ):  # fmt: skip
            assert f"  {path}\n" in text
        assert "scheme: bearer" in text

    def test_the_schema_is_served(self, client):
        response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        assert response.status_code == 200
        assert response.json()["info"]["title"] == "Picky API"

    def test_the_docs_page_loads_its_assets_from_our_static_files(self, client):
        response = client.get("/api/docs/")
        assert response.status_code == 200
        page = response.content.decode()
        assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
        for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs", "//fonts.googleapis"):
            assert cdn not in page
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
            served = client.get(f"/static/drf_spectacular_sidecar/swagger-ui-dist/{asset}")
            assert served.status_code == 200


def test_an_api_body_over_the_payload_limit_is_refused_with_413(project, settings):
    """The API reads its bodies through the one body reader, bounded like the webhooks."""
    settings.PICKY_MAX_PAYLOAD_BYTES = 1000
    document = copy.deepcopy(DOCUMENT)
    document["name"] = "x" * 2000
    response = api_client(project).post("/api/v1/connectors/import", document, format="json")
    assert response.status_code == 413
    assert response.json()["detail"] == "The body is over the limit of 1000 bytes."
    assert not Connector.objects.filter(project=project).exists()
