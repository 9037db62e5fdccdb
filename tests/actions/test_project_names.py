"""Names an action gives of its project's things (a channel, an owner) are checked when the
action is saved, in the admin, the import and the API alike, and named again when a run
finds one gone."""

import pytest

from actions.models import Action
from connectors import engine
from connectors.models import Run, RunLog
from connectors.services import record_event
from connectors.transfer import FORMAT, ConnectorImportError, import_connector
from teambox.models import Channel
from tests.api_client import api_client
from tests.builders import build_connector

CHANNEL_PATH = "steps[0].actions[0].config.channel"
UNKNOWN_CHANNEL = (
    "No channel named 'WhatsApp' in this project. Its channels: Sandbox, Shop WhatsApp Cloud."
)


@pytest.fixture
def channels(project):
    for name in ("Shop WhatsApp Cloud", "Sandbox"):
        Channel.objects.create(project=project, name=name, kind=Channel.Kind.SANDBOX)


def document(*actions):
    return {"format": FORMAT, "name": "Leads", "steps": [{"actions": list(actions)}]}


def message(channel):
    return {
        "type": "send_message",
        "config": {"channel": channel, "to": "919847012345", "text": "Hi"},
    }


def import_errors(project, *actions):
    with pytest.raises(ConnectorImportError) as refused:
        import_connector(project, document(*actions))
    return refused.value.errors


def test_an_unknown_channel_is_refused_with_the_projects_channels(project, channels):
    broadcast = {"type": "broadcast", "config": {"channel": "WhatsApp", "text": "Sale"}}

    assert import_errors(project, message("WhatsApp"), broadcast) == [
        (CHANNEL_PATH, UNKNOWN_CHANNEL),
        ("steps[0].actions[1].config.channel", UNKNOWN_CHANNEL),
    ]


def test_a_project_without_channels_says_where_to_add_one(project):
    assert import_errors(project, message("WhatsApp")) == [
        (
            CHANNEL_PATH,
            "No channel named 'WhatsApp' in this project, which has no channel yet: add one "
            "under Teambox → Channels.",
        )
    ]


def test_names_compare_whatever_their_case_and_templates_wait_for_the_run(project, channels):
    connector = import_connector(
        project, document(message("sandbox"), message("{{ event.channel }}"))
    )

    assert connector.steps.get().actions.count() == 2


def test_another_projects_channel_is_unknown(project, other_project):
    Channel.objects.create(project=other_project, name="WhatsApp", kind=Channel.Kind.SANDBOX)

    assert [path for path, _ in import_errors(project, message("WhatsApp"))] == [CHANNEL_PATH]


def test_an_unknown_owner_is_refused_with_the_projects_members(project, member):
    owner = {"type": "change_owner", "config": {"owner": "bob"}}
    reminder = {"type": "add_reminder", "config": {"text": "Call", "amount": 1, "assignee": "bob"}}

    errors = import_errors(project, owner, reminder)

    known = "No member of project 'acme' is called 'bob'. Its members: member."
    assert errors == [
        ("steps[0].actions[0].config.owner", known),
        ("steps[0].actions[1].config.assignee", known),
    ]
    owner["config"]["owner"] = "MEMBER"
    assert import_connector(project, document(owner)).steps.get().actions.get().type == (
        "change_owner"
    )


def test_the_api_gives_the_same_field_error(project, channels):
    response = api_client(project).post(
        "/api/v1/connectors/import", document(message("WhatsApp")), format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [{"path": CHANNEL_PATH, "message": UNKNOWN_CHANNEL}]


def test_the_action_page_shows_it_at_the_field(client, project, member, channels):
    step = build_connector(project, steps=[{"name": "Only step"}]).steps.get()
    client.force_login(member)

    response = client.post(
        f"/admin/actions/action/add/?type=send_message&step={step.pk}",
        {
            "step": step.pk,
            "enabled": "on",
            "config__channel": "WhatsApp",
            "config__to": "{{ contact.number }}",
            "config__text": "Thanks!",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["config__channel"] == [UNKNOWN_CHANNEL]
    assert not Action.objects.exists()


def test_a_channel_gone_since_fails_the_run_naming_it(project, channels):
    connector = import_connector(project, document(message("Sandbox")))
    Channel.objects.filter(name="Sandbox").delete()

    event = record_event(connector, {}, method="POST", headers={}, source_ip=None)
    run = engine.process_event(event.pk)

    assert run.status == Run.Status.FAILED
    line = RunLog.objects.get(run=run, kind=RunLog.Kind.ACTION)
    assert line.error == (
        "No channel named 'Sandbox' in this project. Its channels: Shop WhatsApp Cloud."
    )
