"""Drafts and published versions: the builder edits a draft, runs start on the published
version and keep it across a delay, the connector page says what the draft changes, and
the draft can be discarded or an earlier version published again."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth import get_user_model
from django.urls import reverse

from actions.models import Action
from connectors import delays, engine, services, versions
from connectors.models import Connector, ConnectorVersion, Run, RunLog, Step
from connectors.stats import connector_stats
from connectors.transfer import FORMAT, export_connector, import_connector
from picky.models import Membership
from tests.api_client import api_client
from tests.builders import build_connector


def ingest(connector, payload=None):
    event = services.record_event(
        connector, payload or {"name": "Asha"}, method="POST", headers={}, source_ip="127.0.0.1"
    )
    engine.process_event(event.pk)
    return Run.objects.get(event=event, replay_of=None)


def greeting(run):
    return run.context["vars"]["greeting"]


def greeter(project, text="Hello {{ event.name }}", **step):
    return build_connector(
        project,
        name="Greeter",
        steps=[
            {
                "name": "Greet",
                **step,
                "actions": [("set_variable", {"name": "greeting", "value": text})],
            }
        ],
    )


def draft_action(connector):
    return Action.objects.get(step__connector=connector)


def test_runs_start_on_the_published_version_not_on_the_draft(project, member):
    connector = greeter(project)
    first = versions.publish_connector(connector, member)
    Action.objects.filter(pk=draft_action(connector).pk).update(
        config={"name": "greeting", "value": "Bye {{ event.name }}"}
    )
    connector.refresh_from_db()

    run = ingest(connector)

    assert (first.number, first.published_by, run.version) == (1, member, first)
    assert greeting(run) == "Hello Asha"
    second = versions.publish_connector(connector, member)
    assert greeting(ingest(connector)) == "Bye Asha"
    assert second.number == 2
    # The frozen copies are the versions' own; the builder sees one step and one action.
    assert Step.every.filter(connector=connector).count() == 3
    assert [step.pk for step in connector.steps.all()] == [draft_action(connector).step_id]


def test_a_connector_never_published_runs_its_steps_as_they_stand(project):
    connector = greeter(project)

    run = ingest(connector)

    assert run.version is None
    assert greeting(run) == "Hello Asha"


def test_a_waiting_run_resumes_on_the_version_it_started_with(project):
    connector = build_connector(
        project,
        name="Follow up",
        steps=[
            {
                "name": "A day later",
                "delay": {"mode": "fixed", "amount": 1, "unit": "days"},
                "actions": [("set_variable", {"name": "greeting", "value": "v1"})],
            },
        ],
    )
    first = versions.publish_connector(connector)
    start = datetime(2025, 3, 1, 10, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        run = ingest(connector)
        assert run.status == Run.Status.WAITING
        # The builder renames the step, adds one before it and changes the value; published.
        step = connector.steps.get()
        Action.objects.filter(step=step).update(config={"name": "greeting", "value": "v2"})
        Step.objects.filter(pk=step.pk).update(position=1)
        Step.objects.create(connector=connector, position=0, name="New first step")
        connector.refresh_from_db()
        versions.publish_connector(connector)

        clock.shift(timedelta(days=1, minutes=1))
        assert delays.sweep_due_delays() == 1
        engine.continue_run(run.pk)

    run.refresh_from_db()
    assert (run.status, run.version, greeting(run)) == (Run.Status.SUCCEEDED, first, "v1")
    action_log = run.logs.get(kind=RunLog.Kind.ACTION)
    assert action_log.step.version == first


def test_the_draft_changes_read_as_sentences(project):
    connector = build_connector(
        project,
        name="Leads",
        steps=[
            {
                "name": "Thank",
                "filters": [[{"field": "{{ event.state }}", "op": "equals", "value": "Kerala"}]],
                "actions": [
                    ("add_tag", {"tags": ["Lead"]}),
                    ("set_variable", {"name": "a", "value": "1"}),
                    ("add_note", {"text": "Called"}),
                ],
            },
            {"name": "Old step", "actions": []},
        ],
    )
    versions.publish_connector(connector)
    assert versions.draft_changes(connector) == []

    thank = connector.steps.get(name="Thank")
    thank.filters = [[{"field": "{{ event.state }}", "op": "equals", "value": "Goa"}]]
    thank.save()
    tag, variable, note = thank.actions.all()
    Action.objects.filter(pk=tag.pk).update(position=2)
    Action.objects.filter(pk=note.pk).update(position=0)
    Action.objects.filter(pk=variable.pk).update(config={"name": "a", "value": "2"})
    connector.steps.filter(name="Old step").delete()
    follow = Step.objects.create(connector=connector, position=5, name="Follow up")
    Action.objects.create(step=follow, type="add_note", config={"text": "Follow up"})

    changes = versions.draft_changes(connector)

    assert changes[0] == (
        "Step 1 “Thank”: filters changed from “state is Kerala” to “state is Goa”."
    )
    assert changes[1:] == [
        "Step 1 “Thank”: action 1 (Add Note) moves (was action 3).",
        "Step 1 “Thank”: action 2 (Set Variable): settings change: value.",
        "Step 1 “Thank”: action 3 (Add Tag) moves (was action 1).",
        "Step 2 “Follow up” is added (1 action).",
        "Step 2 “Old step” is removed.",
    ]


def test_discarding_the_draft_restores_the_live_version_in_place(project):
    connector = greeter(project)
    versions.publish_connector(connector)
    action = draft_action(connector)
    action.config = {"name": "greeting", "value": "Changed"}
    action.save()
    Step.objects.create(connector=connector, position=1, name="Extra")

    versions.discard_draft(connector)

    assert versions.draft_changes(connector) == []
    kept = draft_action(connector)
    assert (kept.pk, kept.config["value"]) == (action.pk, "Hello {{ event.name }}")
    assert list(connector.steps.values_list("name", flat=True)) == ["Greet"]


def test_rolling_back_publishes_a_copy_of_an_earlier_version(project, member):
    connector = greeter(project)
    first = versions.publish_connector(connector, member)
    Action.objects.filter(step__connector=connector).update(
        config={"name": "greeting", "value": "Second"}
    )
    versions.publish_connector(connector, member)

    third = versions.roll_back(connector, first, member)

    connector.refresh_from_db()
    assert (third.number, third.note, connector.live_version) == (
        3,
        "Rolled back to version 1",
        third,
    )
    assert third.definition == first.definition
    assert greeting(ingest(connector)) == "Hello Asha"
    assert versions.draft_changes(connector) == []


def test_import_publishes_and_export_carries_the_published_version(project, member):
    document = {
        "format": FORMAT,
        "name": "Imported",
        "steps": [
            {
                "name": "Greet",
                "actions": [{"type": "set_variable", "config": {"name": "g", "value": "1"}}],
            }
        ],
    }
    connector = import_connector(project, document, published_by=member)
    exported = export_connector(connector)
    assert (connector.live_version.number, connector.live_version.published_by) == (1, member)
    assert connector.live_version.definition == exported

    Action.objects.filter(step__connector=connector).update(config={"name": "g", "value": "2"})

    assert export_connector(connector) == exported
    assert versions.draft_changes(connector) == [
        "Step 1 “Greet”: action 1 (Set Variable): settings change: value."
    ]


def test_the_api_publishes_on_create_and_update(project):
    client = api_client(project)

    created = client.post("/api/v1/connectors", {"name": "From the API"}, format="json")
    connector = Connector.objects.get(pk=created.json()["id"])
    Step.objects.create(connector=connector, name="Added in the builder")
    client.patch(f"/api/v1/connectors/{connector.pk}", {"enabled": False}, format="json")

    numbers = list(connector.versions.order_by("number").values_list("number", "note"))
    assert [number for number, _ in numbers] == [1, 2]
    assert numbers[0][1].startswith("Saved through the API (api-token:")
    assert connector.versions.get(number=2).definition["steps"][0]["name"] == "Added in the builder"


def test_existing_connectors_get_their_state_as_version_one(project):
    """The data migration's function, on today's models: version 1 is the state as it was,
    published, and the runs are on it."""
    from importlib import import_module

    migration = import_module("connectors.migrations.0012_connector_versions")
    connector = greeter(project)
    run = ingest(connector)
    step, action = Step.objects.get(connector=connector), draft_action(connector)

    migration.publish_existing_connectors(apps, None)

    connector.refresh_from_db()
    run.refresh_from_db()
    assert connector.live_version.number == 1
    assert run.version == connector.live_version
    # The run's rows are version 1's (its logs and effect keys name them); the draft is new.
    assert Step.every.get(pk=step.pk).version == connector.live_version
    assert Action.every.get(pk=action.pk).origin == draft_action(connector) != action
    assert Step.objects.get(connector=connector).pk != step.pk
    assert connector.live_version.definition == export_connector(connector)
    assert versions.draft_changes(connector) == []
    assert greeting(ingest(connector)) == "Hello Asha"


def test_the_stats_count_the_published_copies_as_their_draft_steps(project):
    connector = greeter(project)
    ingest(connector)
    versions.publish_connector(connector)
    connector.refresh_from_db()
    ingest(connector)

    [step] = connector_stats(connector)["24h"]["steps"]

    assert (step["name"], step["passed"]) == ("Greet", 2)


# The connector page ----------------------------------------------------------------------


def page(client, connector):
    return client.get(reverse("admin:connectors_connector_change", args=[connector.pk]))


def post(client, name, *args):
    return client.post(reverse(f"admin:connectors_connector_{name}", args=args))


def test_the_page_shows_the_draft_and_publishes_discards_and_rolls_back(client, project, member):
    client.force_login(member)
    connector = greeter(project)
    assert "Not published yet." in page(client, connector).content.decode()

    assert post(client, "publish", connector.pk).status_code == 302
    assert "Version 1 is live" in page(client, connector).content.decode()
    Action.objects.filter(step__connector=connector).update(
        config={"name": "greeting", "value": "<b>New</b>"}
    )
    html = page(client, connector).content.decode()
    assert "Draft: 1 change not published." in html
    assert "action 1 (Set Variable): settings change: value." in html

    post(client, "discard", connector.pk)
    assert draft_action(connector).config["value"] == "Hello {{ event.name }}"
    Action.objects.filter(step__connector=connector).update(
        config={"name": "greeting", "value": "2"}
    )
    post(client, "publish", connector.pk)
    post(client, "roll_back", connector.pk, 1)

    connector.refresh_from_db()
    assert (connector.live_version.number, connector.live_version.published_by) == (3, member)
    history = page(client, connector).content.decode()
    assert "Rolled back to version 1" in history
    assert history.count("Roll back to this version") == 2


def test_a_connector_added_in_the_admin_is_published_empty(client, project, member):
    client.force_login(member)

    client.post(
        reverse("admin:connectors_connector_add"),
        {
            "project": project.pk,
            "name": "Made here",
            "enabled": "on",
            "trigger": "webhook",
            "field_mapping": "{}",
            "steps-TOTAL_FORMS": "0",
            "steps-INITIAL_FORMS": "0",
        },
    )

    connector = Connector.objects.get(name="Made here")
    assert (connector.live_version.number, connector.live_version.note) == (1, "Created")


def test_agents_cannot_publish(client, project):
    agent = get_user_model().objects.create_user("agent", password="pw", is_staff=True)
    Membership.objects.create(project=project, user=agent, role=Membership.Role.AGENT)
    connector = greeter(project)
    client.force_login(agent)

    assert post(client, "publish", connector.pk).status_code == 403
    assert not ConnectorVersion.objects.exists()


@pytest.mark.parametrize("view", ["publish", "discard"])
def test_publishing_needs_a_post(client, project, member, view):
    client.force_login(member)
    connector = greeter(project)

    answer = client.get(reverse(f"admin:connectors_connector_{view}", args=[connector.pk]))

    assert answer.status_code == 405
