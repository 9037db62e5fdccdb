import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from actions import http_services
from actions.base import ActionContext
from actions.models import Action, HttpRequestLog
from actions.registry import get_type
from crm.models import Contact
from picky import alerts
from picky.models import AlertState, Membership
from tests.builders import build_connector


@pytest.fixture(autouse=True)
def allow_local(settings):
    settings.PICKY_OUTBOUND_ALLOWLIST = ["127.0.0.1"]


@pytest.fixture
def outsider(other_project):
    user = get_user_model().objects.create_user("outsider", password="pw-out-1", is_staff=True)
    Membership.objects.create(project=other_project, user=user, role=Membership.Role.ADMIN)
    return user


def url(httpserver, path):
    return httpserver.url_for(path).replace("localhost", "127.0.0.1")


def make_action(project, config, sample=None):
    connector = build_connector(
        project,
        name="Leads",
        sample_payload=sample,
        steps=[{"name": "Call", "actions": [("http_request", config)]}],
    )
    return Action.objects.get(step__connector=connector)


def page(name, action, *extra):
    return reverse(name, args=[action.pk, *extra])


def test_admin_links_of_the_type(project, httpserver):
    action = make_action(project, {"url": url(httpserver, "/x")})
    labels = [label for label, _ in get_type("http_request").admin_links(action)]
    assert labels == ["Test", "Response mapping", "Request log", "Reset Mail Timeout"]


def test_test_button_sends_with_the_sample_payload(client, member, project, httpserver):
    httpserver.expect_request("/contacts/91").respond_with_json(
        {"name": "Asha", "plan": {"tier": "gold"}}, headers={"X-Trace": "t-1"}
    )
    action = make_action(
        project,
        {
            "url": url(httpserver, "/contacts/{{ event.id }}"),
            "save_as": "crm",
            "headers": {"Authorization": "Bearer sk-secret"},
        },
        sample={"id": 91},
    )
    client.force_login(member)
    shown = client.get(page("http_action_test", action))
    assert shown.status_code == 200
    assert "&quot;id&quot;: 91" in shown.content.decode()

    response = client.post(page("http_action_test", action), {"payload": '{"id": 91}'})
    body = response.content.decode()
    assert response.status_code == 200
    assert (
        "HTTP 200" in body
        and "X-Trace: t-1" in body
        and "&quot;tier&quot;: &quot;gold&quot;" in body
    )
    assert "sk-secret" not in body
    log = HttpRequestLog.objects.get(action=action)
    assert log.trigger == HttpRequestLog.Trigger.TEST
    mapping = http_services.mapping_of(action)
    assert http_services.mapped_paths(mapping, "crm") == [
        "vars.crm.response.name",
        "vars.crm.response.plan.tier",
    ]


def test_test_button_shows_errors_without_alerting(client, member, project):
    action = make_action(project, {"url": "http://10.0.0.5/", "alert_emails": "a@b.io"})
    client.force_login(member)
    body = client.post(page("http_action_test", action), {"payload": "{}"}).content.decode()
    assert "10.0.0.5: a private address" in body
    assert not AlertState.objects.exists()


def test_test_button_refuses_a_payload_that_is_not_json(client, member, project, httpserver):
    action = make_action(project, {"url": url(httpserver, "/x")})
    client.force_login(member)
    body = client.post(page("http_action_test", action), {"payload": "{nope"}).content.decode()
    assert "Not valid JSON: Expecting property name" in body
    assert httpserver.log == []


def test_mapping_page_notices_and_remap(client, member, project, httpserver):
    action = make_action(project, {"url": url(httpserver, "/c"), "save_as": "crm"})
    client.force_login(member)
    http_services.note_response(action, False, None)
    body = client.get(page("http_action_mapping", action)).content.decode()
    assert "Response mapping not done, only JSON can be mapped as response" in body

    http_services.note_response(action, True, {"name": "Asha"})
    body = client.get(page("http_action_mapping", action)).content.decode()
    assert "{{ vars.crm.response.name }}" in body
    assert "JSON structure change detected" not in body

    http_services.note_response(action, True, {"full_name": "Asha"})
    body = client.get(page("http_action_mapping", action)).content.decode()
    assert "JSON structure change detected" in body and "Remap" in body

    response = client.post(page("http_action_mapping", action))
    assert response.status_code == 302
    body = client.get(page("http_action_mapping", action)).content.decode()
    assert "JSON structure change detected" not in body
    assert "{{ vars.crm.response.full_name }}" in body


def test_request_log_and_view_page_mask_secrets(client, member, project, httpserver):
    httpserver.expect_request("/l").respond_with_json({"ok": True})
    action = make_action(
        project,
        {"url": url(httpserver, "/l?token=abc123"), "headers": {"X-Api-Key": "key-999"}},
    )
    # The request is sent by a run; the pages show it.
    http_type = get_type("http_request")
    ctx = ActionContext(
        project=project, data={"event": {}}, connector=action.step.connector, action=action
    )
    http_type.run(ctx, http_type.render(ctx, action.config))
    client.force_login(member)
    listing = client.get(page("http_action_logs", action)).content.decode()
    log = HttpRequestLog.objects.get(action=action)
    assert page("http_action_log", action, log.pk) in listing and ">View<" in listing
    detail = client.get(page("http_action_log", action, log.pk)).content.decode()
    assert "token=*****" in detail and "abc123" not in detail
    assert "key-999" not in detail and "HTTP 200" in detail


def test_reset_mail_timeout(client, member, project, httpserver):
    action = make_action(project, {"url": url(httpserver, "/x"), "alert_emails": "ops@x.io"})
    source = http_services.alert_source(action)
    alerts.record_failure(project, source, label="Lookup", error="HTTP 500", recipients=["o@x.io"])
    AlertState.objects.update(last_mailed_at=timezone.now())
    client.force_login(member)
    body = client.get(page("http_action_reset_mail", action)).content.decode()
    assert "HTTP 500" in body and "ops@x.io" in body
    response = client.post(page("http_action_reset_mail", action))
    assert response.status_code == 302
    assert AlertState.objects.get().last_mailed_at is None


@pytest.mark.parametrize(
    "name",
    ["http_action_test", "http_action_mapping", "http_action_logs", "http_action_reset_mail"],
)
def test_other_projects_members_get_404(client, outsider, project, httpserver, name):
    action = make_action(project, {"url": url(httpserver, "/x")})
    alerts.record_failure(project, http_services.alert_source(action), label="L", error="e")
    AlertState.objects.update(last_mailed_at=timezone.now())
    client.force_login(outsider)
    assert client.get(page(name, action)).status_code == 404
    assert client.post(page(name, action), {"payload": "{}"}).status_code == 404
    assert AlertState.objects.get().last_mailed_at is not None
    assert httpserver.log == []


def test_log_of_another_action_is_404(client, member, project, httpserver):
    first = make_action(project, {"url": url(httpserver, "/x")})
    log = HttpRequestLog.objects.create(action=first, method="GET", url="http://a.io/")
    second = Action.objects.create(step=first.step, type="http_request", config=first.config)
    client.force_login(member)
    assert client.get(page("http_action_log", second, log.pk)).status_code == 404


def test_anonymous_users_go_to_the_login(client, project, httpserver):
    action = make_action(project, {"url": url(httpserver, "/x")})
    response = client.get(page("http_action_test", action))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_actions_without_http_have_no_pages(client, member, project):
    connector = build_connector(
        project,
        name="Mail",
        steps=[{"actions": [("send_email", {"to": ["a@b.io"], "subject": "s", "body": "b"})]}],
    )
    action = Action.objects.get(step__connector=connector)
    client.force_login(member)
    assert client.get(page("http_action_test", action)).status_code == 404


def test_request_log_admin_is_scoped(client, outsider, member, project, httpserver):
    action = make_action(project, {"url": url(httpserver, "/x")})
    HttpRequestLog.objects.create(action=action, method="GET", url="http://only-acme.example/")
    changelist = reverse("admin:actions_httprequestlog_changelist")
    client.force_login(outsider)
    assert "only-acme.example" not in client.get(changelist).content.decode()
    client.force_login(member)
    assert "only-acme.example" in client.get(changelist).content.decode()


def test_test_button_renders_the_contact_of_the_field_mapping_and_writes_none(
    client, member, project, httpserver
):
    httpserver.expect_request("/lookup", query_string={"phone": "919847012345"}).respond_with_json(
        {"found": True}
    )
    action = make_action(
        project,
        {"url": url(httpserver, "/lookup") + "?phone={{ contact.number }}"},
        sample={"phone": "+91 98470 12345"},
    )
    connector = action.step.connector
    connector.field_mapping = {"number": "{{ event.phone }}"}
    connector.save(update_fields=["field_mapping"])
    client.force_login(member)

    response = client.post(
        page("http_action_test", action), {"payload": '{"phone": "+91 98470 12345"}'}
    )

    assert response.context["sent"].response.status == 200
    assert "phone=919847012345" in response.content.decode()
    assert not Contact.objects.exists()


def test_test_button_says_when_the_mapping_gives_no_contact(client, member, project, httpserver):
    httpserver.expect_request("/lookup").respond_with_json({})
    action = make_action(
        project, {"url": url(httpserver, "/lookup") + "?phone={{ contact.number }}"}
    )
    connector = action.step.connector
    connector.field_mapping = {"number": "{{ event.phone }}"}
    connector.save(update_fields=["field_mapping"])
    client.force_login(member)

    response = client.post(page("http_action_test", action), {"payload": '{"phone": "12"}'})

    assert "gives no contact for this payload" in response.content.decode()
    assert response.context["sent"].response.status == 200
