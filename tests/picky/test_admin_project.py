"""Project and API token pages for project members."""

import pytest
from django.contrib.auth import get_user_model

from picky.models import ApiToken, Membership, Project
from picky.secret_values import MASK


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def project_form(project, **overrides):
    data = {
        "name": project.name,
        "slug": project.slug,
        "time_zone": project.time_zone,
        "alert_email": project.alert_email,
        "retention_days": project.retention_days,
        "http_rate_limit_per_minute": project.http_rate_limit_per_minute,
        "api_rate_limit_per_minute": project.api_rate_limit_per_minute,
        "chatgpt_api_key": "",
        "chatgpt_base_url": project.chatgpt_base_url,
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def change_url(project):
    return f"/admin/picky/project/{project.pk}/change/"


@pytest.mark.django_db
class TestProjectPage:
    def test_member_edits_settings_but_not_the_slug(self, member_client, project):
        response = member_client.post(
            change_url(project),
            project_form(project, name="Acme Retail", slug="stolen", time_zone="Europe/Paris"),
        )
        assert response.status_code == 302
        project.refresh_from_db()
        assert (project.name, project.slug, project.time_zone) == (
            "Acme Retail",
            "acme",
            "Europe/Paris",
        )

    def test_unknown_time_zone_is_refused_clearly(self, member_client, project):
        response = member_client.post(change_url(project), project_form(project, time_zone="Mars"))
        assert response.status_code == 200
        assert "Unknown time zone &#x27;Mars&#x27;" in response.content.decode()

    def test_members_roles_are_editable_but_members_are_not_added(
        self, member_client, project, member
    ):
        content = member_client.get(change_url(project)).content.decode()
        assert ">member</a></p>" in content
        assert 'name="memberships-0-role"' in content
        assert 'name="memberships-0-user"' not in content
        other = get_user_model().objects.create_user("intruder", password="pw-intr-123")
        member_client.post(
            change_url(project),
            project_form(
                project,
                **{
                    "memberships-TOTAL_FORMS": "1",
                    "memberships-0-user": other.pk,
                    "memberships-0-role": "owner",
                },
            ),
        )
        assert not Membership.objects.filter(user=other).exists()

    def test_member_cannot_add_projects(self, member_client):
        assert member_client.get("/admin/picky/project/add/").status_code == 403

    def test_api_key_is_never_shown_and_kept_when_left_empty(self, member_client, project):
        Project.objects.filter(pk=project.pk).update(chatgpt_api_key="sk-secret-123")
        content = member_client.get(change_url(project)).content.decode()
        assert "sk-secret-123" not in content
        assert f'placeholder="{MASK}"' in content
        member_client.post(change_url(project), project_form(project, name="Renamed"))
        project.refresh_from_db()
        assert (project.name, project.chatgpt_api_key) == ("Renamed", "sk-secret-123")

    def test_api_key_replaced_or_removed(self, member_client, project):
        member_client.post(change_url(project), project_form(project, chatgpt_api_key="sk-new"))
        project.refresh_from_db()
        assert project.chatgpt_api_key == "sk-new"
        member_client.post(
            change_url(project), project_form(project, **{"chatgpt_api_key-remove": "on"})
        )
        project.refresh_from_db()
        assert project.chatgpt_api_key == ""


@pytest.mark.django_db
class TestApiTokenPage:
    def test_member_renames_and_revokes_a_token_of_the_project(self, member_client, project):
        token, _ = ApiToken.issue(project, "CRM")
        response = member_client.post(
            f"/admin/picky/apitoken/{token.pk}/change/",
            {"name": "CRM sync", "allowed_ip": "", "revoked": "on"},
        )
        assert response.status_code == 302
        token.refresh_from_db()
        assert (token.name, token.revoked, token.project) == ("CRM sync", True, project)
