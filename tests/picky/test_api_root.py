"""GET /api/v1/ lists the endpoints, the docs and the schema, to anyone, showing nothing
of any project."""

import pytest

from tests.api_client import api_client

pytestmark = pytest.mark.django_db


def test_the_root_lists_every_endpoint_with_what_its_methods_do(client):
    response = client.get("/api/v1/")
    assert response.status_code == 200
    body = response.json()
    assert body["docs"] == "http://testserver/api/docs/"
    assert body["schema"] == "http://testserver/api/schema/"
    assert "Authorization: Bearer <api token>" in body["authentication"]
    endpoints = {endpoint["url"]: endpoint["methods"] for endpoint in body["endpoints"]}
    assert endpoints["http://testserver/api/v1/connectors"] == {
        "GET": "List the project's connectors",
        "POST": "Create a connector",
    }
    assert endpoints["http://testserver/api/v1/connectors/{id}/export"] == {
        "GET": "Export a connector as picky.connector/v1 JSON"
    }
    assert set(endpoints["http://testserver/api/v1/project"]) == {"GET", "PATCH"}
    assert all(all(methods.values()) for methods in endpoints.values())
    assert {
        "http://testserver/api/v1/action-types",
        "http://testserver/api/v1/connectors/import",
        "http://testserver/api/v1/events/{id}",
    } <= set(endpoints)
    assert "http://testserver/api/v1/events/{id}/replay" in endpoints


def test_the_root_answers_without_a_slash_and_shows_nothing_of_the_tokens_project(client, project):
    anonymous = client.get("/api/v1/")
    with_token = api_client(project).get("/api/v1")
    assert with_token.status_code == 200
    assert with_token.json() == anonymous.json()
    assert project.slug not in with_token.content.decode()


def test_a_path_under_the_root_that_is_no_endpoint_still_says_so(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert "see /api/docs/" in response.json()["detail"]
