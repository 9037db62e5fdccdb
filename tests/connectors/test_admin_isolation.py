"""Tenant isolation in the admin: a member of Acme never sees or changes Globex's rows."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from actions.models import Action
from connectors.models import Connector, Event, Run, RunLog, Step
from picky.models import ApiToken
from tests.builders import build_connector


@pytest.fixture
def own(project):
    return build_connector(
        project,
        name="Acme leads",
        steps=[{"name": "Acme step", "actions": [("stop_processing", {})]}],
    )


@pytest.fixture
def foreign(other_project):
    """Globex's connector with a step, an action, an event, a run, a log line and a token."""
    connector = build_connector(
        other_project,
        name="Globex secret",
        steps=[{"name": "Globex step", "actions": [("stop_processing", {})]}],
        sample_payload={"secret": 1},
    )
    step = connector.steps.get()
    event = Event.objects.create(
        project=other_project,
        connector=connector,
        payload={"secret": "globex-payload"},
        method="POST",
        received_at=timezone.now(),
        source_ip="198.51.100.9",
    )
    run = Run.objects.create(
        project=other_project, connector=connector, event=event, status=Run.Status.SUCCEEDED
    )
    RunLog.objects.create(run=run, kind="step", step=step, status="ran")
    token, _ = ApiToken.issue(other_project, "Globex token")
    return {
        "connector": connector,
        "step": step,
        "action": step.actions.get(),
        "event": event,
        "run": run,
        "token": token,
        "project": other_project,
    }


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


ROW_PAGES = [
    ("connectors", "connector", "connector"),
    ("connectors", "step", "step"),
    ("actions", "action", "action"),
    ("connectors", "event", "event"),
    ("connectors", "run", "run"),
    ("picky", "project", "project"),
    ("picky", "apitoken", "token"),
]


def admin_url(app, model, suffix=""):
    return f"/admin/{app}/{model}/{suffix}"


@pytest.mark.django_db
class TestMemberOfAnotherProject:
    @pytest.mark.parametrize("app,model,key", ROW_PAGES)
    def test_cannot_open_by_guessing_the_id(self, member_client, foreign, app, model, key):
        pk = foreign[key].pk
        for suffix in (f"{pk}/change/", f"{pk}/delete/", f"{pk}/history/"):
            response = member_client.get(admin_url(app, model, suffix))
            assert response.status_code in (302, 403, 404), suffix
            assert b"globex" not in response.content.lower()

    @pytest.mark.parametrize("app,model,key", ROW_PAGES)
    def test_changelist_does_not_list_it(self, member_client, own, foreign, app, model, key):
        response = member_client.get(admin_url(app, model))
        assert response.status_code == 200
        content = response.content.decode().lower()
        assert "globex" not in content
        assert "198.51.100.9" not in content

    def test_posting_a_change_saves_nothing(self, member_client, project, foreign):
        connector = foreign["connector"]
        response = member_client.post(
            admin_url("connectors", "connector", f"{connector.pk}/change/"),
            {
                "project": project.pk,
                "name": "Hijacked",
                "description": "",
                "enabled": "",
                "field_mapping": "{}",
                "steps-TOTAL_FORMS": "0",
                "steps-INITIAL_FORMS": "0",
            },
        )
        assert response.status_code == 302
        connector.refresh_from_db()
        assert (connector.name, connector.enabled, connector.project) == (
            "Globex secret",
            True,
            foreign["project"],
        )

    def test_posting_step_action_project_and_token_changes_saves_nothing(
        self, member_client, foreign
    ):
        step, action, other_project, token = (
            foreign["step"],
            foreign["action"],
            foreign["project"],
            foreign["token"],
        )
        member_client.post(
            admin_url("connectors", "step", f"{step.pk}/change/"),
            {"name": "Hijacked", "filters": "[]", "iterator": "null", "delay": "null"},
        )
        member_client.post(
            admin_url("actions", "action", f"{action.pk}/change/"),
            {"name": "Hijacked", "enabled": ""},
        )
        member_client.post(
            admin_url("picky", "project", f"{other_project.pk}/change/"),
            {"name": "Hijacked", "slug": "globex", "time_zone": "UTC"},
        )
        member_client.post(
            admin_url("picky", "apitoken", f"{token.pk}/change/"),
            {"name": "Hijacked", "revoked": "on"},
        )
        step.refresh_from_db()
        action.refresh_from_db()
        other_project.refresh_from_db()
        token.refresh_from_db()
        assert step.name == "Globex step"
        assert (action.name, action.enabled) == ("", True)
        assert other_project.name == "Globex"
        assert (token.name, token.revoked) == ("Globex token", False)

    def test_posting_a_delete_deletes_nothing(self, member_client, foreign):
        connector = foreign["connector"]
        member_client.post(
            admin_url("connectors", "connector", f"{connector.pk}/delete/"), {"post": "yes"}
        )
        member_client.post(
            admin_url("connectors", "connector"),
            {"action": "delete_selected", "_selected_action": [connector.pk], "post": "yes"},
        )
        assert Connector.objects.filter(pk=connector.pk).exists()

    def test_custom_pages_answer_404(self, member_client, foreign):
        connector, event, run = foreign["connector"], foreign["event"], foreign["run"]
        gets = [
            admin_url("connectors", "connector", f"{connector.pk}/simulate/"),
            admin_url("connectors", "connector", f"{connector.pk}/export/"),
        ]
        posts = [
            admin_url("connectors", "connector", f"{connector.pk}/remap/"),
            admin_url("connectors", "event", f"{event.pk}/replay/"),
            admin_url("connectors", "event", f"{event.pk}/remap/"),
            admin_url("connectors", "run", f"{run.pk}/replay/"),
        ]
        for url in gets:
            assert member_client.get(url).status_code == 404, url
        for url in posts:
            assert member_client.post(url).status_code == 404, url
        assert Run.objects.count() == 1
        connector.refresh_from_db()
        assert connector.sample_payload == {"secret": 1}

    def test_foreign_keys_offer_only_own_rows(self, member_client, own, foreign):
        pages = [
            admin_url("connectors", "connector", "add/"),
            admin_url("connectors", "step", "add/"),
            admin_url("actions", "action", "add/?type=stop_processing"),
            admin_url("connectors", "connector", "import/"),
        ]
        for url in pages:
            response = member_client.get(url)
            assert response.status_code == 200, url
            content = response.content.decode()
            assert "Globex" not in content, url
        assert "Acme leads" in member_client.get(pages[1]).content.decode()

    def test_cannot_add_rows_under_another_project(self, member_client, foreign):
        response = member_client.post(
            admin_url("connectors", "connector", "add/"),
            {
                "project": foreign["project"].pk,
                "name": "Planted",
                "field_mapping": "{}",
                "steps-TOTAL_FORMS": "0",
                "steps-INITIAL_FORMS": "0",
            },
        )
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
        member_client.post(
            admin_url("connectors", "step", "add/"),
            {"connector": foreign["connector"].pk, "name": "Planted", "filters": "[]"},
        )
        member_client.post(
            admin_url("actions", "action", "add/?type=stop_processing"),
            {"step": foreign["step"].pk, "name": "Planted", "enabled": "on"},
        )
        assert not Connector.objects.filter(name="Planted").exists()
        assert not Step.objects.filter(name="Planted").exists()
        assert not Action.objects.filter(name="Planted").exists()

    def test_sidebar_filters_do_not_name_other_projects(self, member_client, own, foreign):
        for app, model in [("connectors", "connector"), ("connectors", "event")]:
            content = member_client.get(admin_url(app, model)).content.decode()
            assert "Globex" not in content
        # The connector filter of the event list offers the member's own connectors.
        build_connector(own.project, name="Acme orders")
        content = member_client.get(admin_url("connectors", "event")).content.decode()
        assert f"?connector__id__exact={own.pk}" in content

    def test_import_into_another_project_is_refused(self, member_client, foreign):
        response = member_client.post(
            admin_url("connectors", "connector", "import/"),
            {
                "project": foreign["project"].pk,
                "document": '{"format": "picky.connector/v1", "name": "Planted", "steps": []}',
            },
        )
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
        assert not Connector.objects.filter(name="Planted").exists()


@pytest.mark.django_db
class TestOwnRowsAndSuperusers:
    def test_member_opens_own_rows(self, member_client, own, project):
        step = own.steps.get()
        for url in [
            admin_url("connectors", "connector", f"{own.pk}/change/"),
            admin_url("connectors", "step", f"{step.pk}/change/"),
            admin_url("actions", "action", f"{step.actions.get().pk}/change/"),
            admin_url("picky", "project", f"{project.pk}/change/"),
        ]:
            assert member_client.get(url).status_code == 200, url

    def test_superuser_sees_every_project(self, client, own, foreign):
        admin_user = get_user_model().objects.create_superuser("root", password="pw-root-123")
        client.force_login(admin_user)
        content = client.get(admin_url("connectors", "connector")).content.decode()
        assert "Acme leads" in content and "Globex secret" in content
        url = admin_url("connectors", "connector", f"{foreign['connector'].pk}/change/")
        assert client.get(url).status_code == 200

    def test_staff_without_membership_sees_nothing(self, client, foreign):
        outsider = get_user_model().objects.create_user(
            "outsider", password="pw-out-1234", is_staff=True
        )
        client.force_login(outsider)
        assert client.get(admin_url("connectors", "connector")).status_code == 403
        url = admin_url("connectors", "connector", f"{foreign['connector'].pk}/change/")
        assert client.get(url).status_code in (302, 403)
