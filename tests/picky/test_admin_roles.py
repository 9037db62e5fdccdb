"""Project roles in the admin: owners and admins manage the project, agents read contacts
and messages only, and a member of another project sees none of it."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from actions.models import HttpRequestLog
from connectors.models import Event, Run, ScheduledStep
from crm import services as crm
from crm.models import Category, Field, Funnel, Module, OptOutList, Reminder, Tag
from crm.records.services import add_record
from journeys.models import Delivery as SequenceDelivery
from journeys.models import Flow, FlowSession, Sequence, SequenceMessage, SmartReply, Subscription
from picky.models import AlertState, ApiToken, GlobalVariable, Membership
from picky.tenancy import SECTION_ACCESS, ProjectScopedAdminMixin
from teambox.models import (
    Agent,
    Broadcast,
    Channel,
    Conversation,
    Department,
    Message,
    RoutingRule,
    WhatsAppGroup,
)
from tests.api_client import api_client
from tests.builders import build_connector
from webhooks.models import Delivery, WebhookSettings

OWNER, ADMIN, AGENT = Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.AGENT
# What agents read: contacts, messages, conversations and their own notifications; every
# other section is closed to them.
AGENT_READS = {"crm.contact", "teambox.message", "teambox.conversation", "teambox.notification"}
# Sections whose rows are made elsewhere (commands, webhooks, runs): no add page for anyone
# but superusers, whatever the role.
NO_ADD_PAGE = {
    "picky.project", "picky.alertstate", "connectors.event",
    "connectors.run", "connectors.scheduledstep", "actions.httprequestlog",
    "teambox.message", "teambox.inbounddelivery", "teambox.conversation",
    "teambox.notification", "teambox.whatsappgroup", "webhooks.delivery", "journeys.subscription",
    "journeys.delivery", "journeys.flowsession",
}  # fmt: skip


def section_url(section, suffix=""):
    app, model = section.split(".")
    return f"/admin/{app}/{model}/{suffix}"


def staff(username, project, role):
    user = get_user_model().objects.create_user(
        username, password=f"pw-{username}-1", is_staff=True
    )
    Membership.objects.create(project=project, user=user, role=role)
    return user


@pytest.fixture
def rows(project):
    """One row of each section in `project` (Acme), each named with "acme-row"."""
    connector = build_connector(
        project,
        name="acme-row connector",
        steps=[{"name": "acme-row step", "actions": [("stop_processing", {})]}],
    )
    step = connector.steps.get()
    action = step.actions.get()
    event = Event.objects.create(
        project=project, connector=connector, payload={}, method="POST", received_at=timezone.now()
    )
    run = Run.objects.create(project=project, connector=connector, event=event)
    contact = crm.upsert_contact(project, "919847012345", name="acme-row contact")
    channel = Channel.objects.create(project=project, name="acme-row channel", kind="sandbox")
    token, _ = ApiToken.issue(project, "acme-row token")
    module = Module.objects.create(project=project, name="acme-row module")
    Field.objects.create(module=module, key="title", label="Title", type="text")
    now = timezone.now()
    sequence = Sequence.objects.create(project=project, name="acme-row sequence", channel=channel)
    subscription = Subscription.objects.create(sequence=sequence, contact=contact, started_at=now)
    flow = Flow.objects.create(project=project, name="acme-row flow")
    return {
        "picky.project": project,
        "picky.apitoken": token,
        "picky.alertstate": AlertState.objects.create(
            project=project, source="action:1", label="acme-row alert"
        ),
        "picky.globalvariable": GlobalVariable.objects.create(
            project=project, name="acme_row", value="acme-row value"
        ),
        "connectors.connector": connector,
        "connectors.step": step,
        "connectors.event": event,
        "connectors.run": run,
        "connectors.scheduledstep": ScheduledStep.objects.create(
            project=project, connector=connector, run=run, step=step, due_at=timezone.now()
        ),
        "actions.action": action,
        "actions.httprequestlog": HttpRequestLog.objects.create(
            action=action, method="GET", url="https://acme.example/acme-row"
        ),
        "crm.contact": contact,
        "crm.tag": Tag.objects.create(project=project, name="acme-row tag"),
        "crm.category": Category.objects.create(project=project, name="acme-row category"),
        "crm.optoutlist": OptOutList.objects.create(project=project, name="acme-row list"),
        "crm.reminder": Reminder.objects.create(
            project=project, contact=contact, text="acme-row reminder", due_at=timezone.now()
        ),
        "crm.module": module,
        "crm.record": add_record(module, {"title": "acme-row record"}),
        "crm.funnel": Funnel.objects.create(module=module, name="acme-row funnel"),
        "teambox.channel": channel,
        "teambox.message": Message.objects.create(
            project=project,
            channel=channel,
            direction="in",
            address="919847012345",
            body="acme-row message",
        ),  # fmt: skip
        "teambox.broadcast": Broadcast.objects.create(
            project=project, channel=channel, name="acme-row broadcast"
        ),
        "teambox.department": Department.objects.create(project=project, name="acme-row team"),
        "teambox.agent": Agent.objects.create(
            project=project, user=staff("acme-row-agent", project, AGENT)
        ),
        "teambox.routingrule": RoutingRule.objects.create(project=project, channel=channel),
        "teambox.conversation": Conversation.objects.create(
            project=project, channel=channel, contact=contact
        ),
        "journeys.sequence": sequence,
        "journeys.subscription": subscription,
        "journeys.delivery": SequenceDelivery.objects.create(
            subscription=subscription,
            message=SequenceMessage.objects.create(sequence=sequence, text="acme-row step"),
            due_at=now,
        ),
        "journeys.flow": flow,
        "journeys.flowsession": FlowSession.objects.create(
            project=project,
            flow=flow,
            contact=contact,
            channel=channel,
            step="acme-row step",
            started_at=now,
            last_activity_at=now,
            expires_at=now,
        ),
        "journeys.smartreply": SmartReply.objects.create(
            project=project, name="acme-row reply", phrases="price", reply="acme-row reply"
        ),
        "teambox.whatsappgroup": WhatsAppGroup.objects.create(
            channel=channel, gateway_id="120363000000000001@g.us", subject="acme-row group"
        ),
        "webhooks.webhooksettings": WebhookSettings.objects.create(
            project=project, event_url="https://acme.example/acme-row", secret="s"
        ),
        "webhooks.delivery": Delivery.objects.create(
            project=project, kind="event", event=1, url="https://acme.example/acme-row", body="{}"
        ),
    }


@pytest.fixture
def as_role(client, project):
    def login(role):
        client.force_login(staff(f"{role}-user", project, role))
        return client

    return login


@pytest.fixture
def globex_admin(client, other_project):
    """An admin of Globex, which is not Acme."""
    client.force_login(staff("globex-admin", other_project, ADMIN))
    return client


def admin_sections():
    """The sections of every registered admin of a tenant-owned model."""
    return sorted(
        model._meta.label_lower
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, ProjectScopedAdminMixin)
    )


def test_every_section_has_its_roles_decided():
    assert admin_sections() == sorted(SECTION_ACCESS)


# Deliveries have no page of their own; each user's notifications are theirs alone (tests/
# teambox/test_teambox_admin.py).
ROW_SECTIONS = sorted(
    section
    for section in SECTION_ACCESS
    if section not in ("teambox.inbounddelivery", "teambox.notification")
)


@pytest.mark.django_db
class TestEachRoleOnEachSection:
    @pytest.mark.parametrize("role", [OWNER, ADMIN, AGENT])
    @pytest.mark.parametrize("section", sorted(SECTION_ACCESS))
    def test_changelist(self, as_role, rows, role, section):
        response = as_role(role).get(section_url(section))
        expected = 403 if role == AGENT and section not in AGENT_READS else 200
        assert response.status_code == expected

    @pytest.mark.parametrize("role", [OWNER, ADMIN, AGENT])
    @pytest.mark.parametrize("section", sorted(SECTION_ACCESS))
    def test_add_page(self, as_role, role, section):
        response = as_role(role).get(section_url(section, "add/"))
        expected = 403 if role == AGENT or section in NO_ADD_PAGE else 200
        assert response.status_code == expected

    @pytest.mark.parametrize("role", [OWNER, ADMIN, AGENT])
    @pytest.mark.parametrize("section", ROW_SECTIONS)
    def test_change_page(self, as_role, rows, role, section):
        response = as_role(role).get(section_url(section, f"{rows[section].pk}/change/"))
        if role == AGENT and section not in AGENT_READS:
            assert response.status_code == 403
            return
        assert response.status_code == 200
        if role == AGENT:
            assert 'name="_save"' not in response.content.decode()

    @pytest.mark.parametrize("section", ROW_SECTIONS)
    def test_member_of_another_project_sees_nothing(self, globex_admin, rows, section):
        listing = globex_admin.get(section_url(section))
        assert listing.status_code == 200
        assert "acme-row" not in listing.content.decode()
        page = globex_admin.get(section_url(section, f"{rows[section].pk}/change/"))
        assert page.status_code == 302
        assert "acme-row" not in globex_admin.get(page.url).content.decode()


@pytest.mark.django_db
class TestAgents:
    def test_index_and_app_lists_show_contacts_and_messages_only(self, as_role, rows):
        client = as_role(AGENT)
        index = client.get("/admin/").content.decode()
        assert "/admin/crm/contact/" in index and "/admin/teambox/message/" in index
        for section in SECTION_ACCESS.keys() - AGENT_READS:
            assert section_url(section) not in index, section
        assert client.get("/admin/connectors/").status_code == 404
        crm_app = client.get("/admin/crm/").content.decode()
        assert "/admin/crm/contact/" in crm_app and "/admin/crm/tag/" not in crm_app

    def test_contacts_are_read_only(self, as_role, rows):
        client = as_role(AGENT)
        contact = rows["crm.contact"]
        page = client.get(section_url("crm.contact", f"{contact.pk}/change/")).content.decode()
        assert "acme-row contact" in page
        assert "Runs that touched this contact" not in page
        response = client.post(
            section_url("crm.contact", f"{contact.pk}/change/"),
            {"project": contact.project_id, "number": contact.number, "name": "Changed"},
        )
        assert response.status_code == 403
        deleted = client.post(section_url("crm.contact", f"{contact.pk}/delete/"), {"post": "yes"})
        assert deleted.status_code == 403
        listing = client.get(section_url("crm.contact")).content.decode()
        assert 'name="action"' not in listing
        client.post(
            section_url("crm.contact"), {"action": "blacklist", "_selected_action": [contact.pk]}
        )
        contact.refresh_from_db()
        assert (contact.name, contact.blacklisted) == ("acme-row contact", False)

    def test_messages_are_not_sent_again(self, as_role, rows):
        message = rows["teambox.message"]
        message.direction, message.status = "out", "failed"
        message.save()
        as_role(AGENT).post(
            section_url("teambox.message"), {"action": "retry", "_selected_action": [message.pk]}
        )
        message.refresh_from_db()
        assert message.status == "failed"

    def test_custom_pages_answer_403(self, as_role, rows):
        client = as_role(AGENT)
        connector, event, run = (
            rows["connectors.connector"],
            rows["connectors.event"],
            rows["connectors.run"],
        )
        action = rows["actions.action"]
        gets = [
            section_url("connectors.connector", f"{connector.pk}/simulate/"),
            section_url("connectors.connector", f"{connector.pk}/export/"),
            section_url("connectors.connector", "import/"),
            f"/admin/actions/http/{action.pk}/test/",
            f"/admin/actions/http/{action.pk}/logs/",
        ]
        posts = [
            section_url("connectors.connector", f"{connector.pk}/remap/"),
            section_url("connectors.event", f"{event.pk}/replay/"),
            section_url("connectors.event", f"{event.pk}/remap/"),
            section_url("connectors.run", f"{run.pk}/replay/"),
            f"/admin/actions/http/{action.pk}/reset-mail-timeout/",
        ]
        for url in gets:
            assert client.get(url).status_code == 403, url
        for url in posts:
            assert client.post(url).status_code == 403, url
        assert Run.objects.count() == 1


@pytest.mark.django_db
class TestMembers:
    def test_admin_changes_a_role_and_agent_cannot(self, as_role, client, project):
        agent = staff("agent-to-promote", project, AGENT)
        membership = Membership.objects.get(user=agent)
        form = {
            "name": project.name,
            "time_zone": project.time_zone,
            "alert_email": "",
            "retention_days": project.retention_days,
            "http_rate_limit_per_minute": project.http_rate_limit_per_minute,
            "api_rate_limit_per_minute": project.api_rate_limit_per_minute,
            "chatgpt_base_url": project.chatgpt_base_url,
            "memberships-TOTAL_FORMS": "2",
            "memberships-INITIAL_FORMS": "2",
            "memberships-0-id": membership.pk,
            "memberships-0-project": project.pk,
            "memberships-0-role": ADMIN,
        }
        url = section_url("picky.project", f"{project.pk}/change/")
        client.force_login(agent)
        assert client.post(url, form).status_code == 403
        managing = as_role(OWNER)
        own = Membership.objects.get(user__username=f"{OWNER}-user")
        form.update(
            {"memberships-1-id": own.pk, "memberships-1-project": project.pk,
             "memberships-1-role": OWNER}
        )  # fmt: skip
        response = managing.post(url, form)
        assert response.status_code == 302, response.content.decode()[:3000]
        membership.refresh_from_db()
        assert membership.role == ADMIN


@pytest.mark.django_db
class TestRevokedTokens:
    @pytest.mark.parametrize("role", [ADMIN, AGENT])
    def test_a_revoked_token_cannot_be_enabled_again(self, as_role, project, role):
        token, raw = ApiToken.issue(project, "CRM")
        token.revoked = True
        token.save()
        client = as_role(role)
        url = section_url("picky.apitoken", f"{token.pk}/change/")
        response = client.post(url, {"name": "CRM", "allowed_ip": ""})
        assert response.status_code == (302 if role == ADMIN else 403)
        token.refresh_from_db()
        assert token.revoked
        if role == ADMIN:
            assert 'name="revoked"' not in client.get(url).content.decode()
        api = api_client(project)
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert api.get("/api/v1/project").status_code == 401

    def test_the_model_refuses_to_enable_it_again(self, project):
        token, _ = ApiToken.issue(project, "CRM")
        token.revoked = True
        token.save()
        token.revoked = False
        with pytest.raises(ValidationError, match="revoking is final"):
            token.save()
        token.refresh_from_db()
        assert token.revoked
