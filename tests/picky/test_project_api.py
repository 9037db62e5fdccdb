import pytest
from rest_framework.test import APIClient

from picky.models import Project
from tests.api_client import api_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(project):
    return api_client(project)


def test_get_shows_the_tokens_project(api, project, other_project):
    response = api.get("/api/v1/project")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "slug": "acme",
        "name": "Acme",
        "time_zone": "Asia/Kolkata",
        "retention_days": 30,
        "alert_email": "",
        "http_rate_limit_per_minute": project.http_rate_limit_per_minute,
        "api_rate_limit_per_minute": 90,
        "chatgpt_base_url": "https://api.openai.com/v1",
        "has_chatgpt_api_key": False,
        "created_at": body["created_at"],
    }


def test_the_chatgpt_key_can_be_set_but_is_never_shown(api, project):
    response = api.patch("/api/v1/project", {"chatgpt_api_key": "sk-secret"}, format="json")
    assert response.status_code == 200
    assert "sk-secret" not in response.content.decode()
    assert response.json()["has_chatgpt_api_key"] is True
    project.refresh_from_db()
    assert project.chatgpt_api_key == "sk-secret"
    assert "sk-secret" not in api.get("/api/v1/project").content.decode()


def test_another_projects_token_sees_its_own_project(project, other_project):
    assert api_client(other_project).get("/api/v1/project").json()["slug"] == "globex"


def test_patch_changes_the_settings(api, project):
    response = api.patch(
        "/api/v1/project",
        {
            "name": "Acme Retail",
            "time_zone": "Europe/Berlin",
            "retention_days": 90,
            "alert_email": "ops@acme.example",
            "http_rate_limit_per_minute": 120,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    project.refresh_from_db()
    assert (project.name, project.time_zone, project.retention_days) == (
        "Acme Retail", "Europe/Berlin", 90,
    )  # fmt: skip
    assert project.alert_email == "ops@acme.example"
    assert project.http_rate_limit_per_minute == 120
    assert response.json()["name"] == "Acme Retail"


def test_the_slug_is_read_only(api, project):
    response = api.patch("/api/v1/project", {"slug": "hijack", "name": "A"}, format="json")
    assert response.status_code == 200
    assert response.json()["slug"] == "acme"
    assert Project.objects.filter(slug="acme", name="A").exists()


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Unknown time zone 'Mars/Olympus'"),
        ({"retention_days": 0}, "retention_days", "greater than or equal to 1"),
        ({"retention_days": "forever"}, "retention_days", "A valid integer is required."),
        ({"alert_email": "ops at acme"}, "alert_email", "Enter a valid email address."),
        ({"http_rate_limit_per_minute": -5}, "http_rate_limit_per_minute", "greater than"),
        ({"name": ""}, "name", "This field may not be blank."),
        ({"chatgpt_base_url": "not a url"}, "chatgpt_base_url", "Enter a valid URL."),
    ],
)
def test_bad_values_are_400_and_change_nothing(api, project, change, field, message):
    response = api.patch("/api/v1/project", change, format="json")
    assert response.status_code == 400
    [error] = response.json()[field]
    assert message in error
    project.refresh_from_db()
    assert project.time_zone == "Asia/Kolkata"
    assert project.retention_days == 30
    assert project.name == "Acme"


def test_put_and_delete_are_not_allowed(api, project):
    assert api.put("/api/v1/project", {"name": "X"}, format="json").status_code == 405
    assert api.delete("/api/v1/project").status_code == 405
    assert Project.objects.filter(pk=project.pk, name="Acme").exists()


def test_no_token_is_401(project):
    response = APIClient().patch("/api/v1/project", {"name": "X"}, format="json")
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]
    assert Project.objects.get(pk=project.pk).name == "Acme"
