"""Secret headers of an HTTP Request action are write-only: in its page, the step and
connector pages, the exports (admin and API); an export does not carry them."""

import json

import pytest
from django import forms

from actions.models import Action
from connectors import transfer
from picky.secret_values import MASK
from tests.api_client import api_client
from tests.builders import build_connector

API_KEY = "key-never-shown-0815"
BEARER = "Bearer tok-never-shown-4711"
HEADERS = {"X-Api-Key": API_KEY, "Authorization": BEARER, "Accept": "application/json"}


@pytest.fixture
def action(project):
    connector = build_connector(
        project,
        name="Leads",
        steps=[
            {
                "name": "Call",
                "actions": [
                    ("http_request", {"url": "https://crm.example/leads", "headers": HEADERS})
                ],
            }
        ],
    )
    return Action.objects.get(step__connector=connector)


@pytest.fixture
def logged_in(client, member):
    client.force_login(member)
    return client


def change_url(action):
    return f"/admin/actions/action/{action.pk}/change/"


def resubmitted(client, action, **changes):
    """What the browser sends back when the action's page is saved with `changes`."""
    form = client.get(change_url(action)).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(value, bool):
            value = "on" if value else ""
        elif isinstance(field.widget, forms.Textarea):
            value = field.widget.format_value(value)
        data[name] = "" if value is None else value
    data.update(changes)
    return data


def assert_no_secret(text):
    assert API_KEY not in text and "tok-never-shown" not in text


@pytest.mark.django_db
def test_no_page_or_export_shows_a_secret_header(logged_in, action, project):
    connector = action.step.connector
    for url in [
        change_url(action),
        f"/admin/connectors/step/{action.step_id}/change/",
        f"/admin/connectors/connector/{connector.pk}/change/",
        f"/admin/connectors/connector/{connector.pk}/export/",
        f"/admin/actions/action/{action.pk}/history/",
    ]:
        assert_no_secret(logged_in.get(url).content.decode())
    assert MASK in logged_in.get(change_url(action)).content.decode()
    exported = api_client(project).get(f"/api/v1/connectors/{connector.pk}/export")
    assert_no_secret(exported.content.decode())
    headers = exported.json()["steps"][0]["actions"][0]["config"]["headers"]
    assert headers == {"X-Api-Key": MASK, "Authorization": MASK, "Accept": "application/json"}


@pytest.mark.django_db
def test_saving_unchanged_keeps_the_headers_and_typing_replaces_one(logged_in, action):
    response = logged_in.post(change_url(action), resubmitted(logged_in, action, name="CRM"))
    assert response.status_code == 302
    action.refresh_from_db()
    assert (action.name, action.config["headers"]) == ("CRM", HEADERS)

    data = resubmitted(logged_in, action)
    shown = json.loads(data["config__headers"])
    assert shown["X-Api-Key"] == MASK
    data["config__headers"] = json.dumps({**shown, "X-Api-Key": "key-rotated"})
    assert logged_in.post(change_url(action), data).status_code == 302
    action.refresh_from_db()
    assert action.config["headers"] == {**HEADERS, "X-Api-Key": "key-rotated"}


@pytest.mark.django_db
def test_an_exported_connector_asks_for_its_secrets_on_import(action, other_project):
    document = transfer.export_connector(action.step.connector)
    with pytest.raises(transfer.ConnectorImportError) as caught:
        transfer.import_connector(other_project, document)
    assert any(
        path == "steps[0].actions[0].config.headers" and "X-Api-Key, Authorization: type" in text
        for path, text in caught.value.errors
    ), caught.value.errors
