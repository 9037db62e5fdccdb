"""API tokens in the admin: owners and admins add them (the raw token is shown once, only
its hash is kept), see when they were last used and revoke them; agents and members of
another project get nothing."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model

from picky.models import ApiToken, Membership, hash_api_token
from tests.api_client import api_client

Role = Membership.Role
LIST_URL = "/admin/picky/apitoken/"
ADD_URL = "/admin/picky/apitoken/add/"


@pytest.fixture
def login(client, project):
    def as_role(role, of=project):
        user = get_user_model().objects.create_user(f"{role}-{of.slug}", is_staff=True)
        Membership.objects.create(project=of, user=user, role=role)
        client.force_login(user)
        return client

    return as_role


def raw_token_in(content):
    found = re.search(r"<code>(pk_[\w-]+)</code>", content)
    return found and found[1]


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_a_manager_adds_a_token_shown_once(login, project, role):
    client = login(role)
    form = client.get(ADD_URL)
    assert form.status_code == 200
    assert form.context["adminform"].form.initial["project"] == project.pk
    response = client.post(
        ADD_URL,
        {"project": project.pk, "name": "CRM sync", "allowed_ip": "203.0.113.7"},
        follow=True,
    )
    content = response.content.decode()
    raw = raw_token_in(content)
    assert raw and "shown only this once" in content
    token = ApiToken.objects.get()
    assert (token.project, token.name, token.allowed_ip) == (project, "CRM sync", "203.0.113.7")
    assert token.token_hash == hash_api_token(raw) and raw.startswith(token.token_prefix)
    # Never again: not on the list, the change page or the history.
    for url in (LIST_URL, f"{LIST_URL}{token.pk}/change/", f"{LIST_URL}{token.pk}/history/"):
        page = client.get(url)
        assert page.status_code == 200
        assert raw not in page.content.decode()
    assert all(raw not in entry.change_message for entry in LogEntry.objects.all())

    api = api_client(project, remote_addr="203.0.113.7")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/project").status_code == 200
    assert f"{token.token_prefix}" in client.get(LIST_URL).content.decode()
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_bad_ip_is_a_field_error(login, project):
    response = login(Role.ADMIN).post(
        ADD_URL, {"project": project.pk, "name": "CRM", "allowed_ip": "203.0.113"}
    )
    assert response.status_code == 200
    assert "Enter a valid IPv4 or IPv6 address." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_no_token_for_another_project(login, project, other_project):
    client = login(Role.OWNER)
    response = client.post(ADD_URL, {"project": other_project.pk, "name": "Sneaky"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_is_final_and_refuses_the_token(login, project, other_project):
    theirs, _ = ApiToken.issue(other_project, "Globex CRM")
    ours, raw = ApiToken.issue(project, "CRM")
    client = login(Role.ADMIN)
    response = client.post(
        LIST_URL,
        {"action": "revoke", "_selected_action": [ours.pk, theirs.pk]},
        follow=True,
    )
    assert "Revoked 1 API token" in response.content.decode()
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert (ours.revoked, theirs.revoked) == (True, False)
    api = api_client(project)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/project").status_code == 401


def test_agents_get_nothing(login, project):
    token, _ = ApiToken.issue(project, "CRM")
    client = login(Role.AGENT)
    assert client.get(LIST_URL).status_code == 403
    assert client.get(ADD_URL).status_code == 403
    assert client.post(ADD_URL, {"project": project.pk, "name": "Mine"}).status_code == 403
    response = client.post(LIST_URL, {"action": "revoke", "_selected_action": [token.pk]})
    assert response.status_code == 403
    assert ApiToken.objects.get().revoked is False


def test_another_projects_manager_sees_no_token(login, project, other_project):
    token, _ = ApiToken.issue(project, "Acme CRM")
    client = login(Role.OWNER, of=other_project)
    assert "Acme CRM" not in client.get(LIST_URL).content.decode()
    assert client.get(f"{LIST_URL}{token.pk}/change/").status_code in (302, 404)
    client.post(LIST_URL, {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert not token.revoked
