"""Cancel Delay's targets as rows (issue 22): a connector and a delay identifier per row,
each from a picker (the identifiers narrowed to the row's connector), the JSON stored as
it always was, and the field's errors naming the row."""

import json

import pytest
from django.urls import reverse

from actions.pickers import names_for
from tests.builders import build_connector


def delayed(project, name, identifier):
    delay = {"mode": "fixed", "amount": 1, "unit": "days", "identifier": identifier}
    return build_connector(project, name=name, steps=[{"name": "Later", "delay": delay}])


@pytest.fixture
def webinars(project):
    delayed(project, "Webinar reminders", "{{ event.meeting_id }}")
    delayed(project, "Order follow-ups", "{{ event.order_id }}")
    own = build_connector(project, name="Cancellations", steps=[{"name": "Cancel"}])
    delayed_step = own.steps.get()
    delayed_step.delay = {
        "mode": "fixed",
        "amount": 2,
        "unit": "hours",
        "identifier": "{{ event.ref }}",
    }
    delayed_step.save(update_fields=["delay"])
    return own


def test_the_identifiers_are_those_of_the_named_connector(project, webinars):
    assert names_for("delay_identifiers", project, within="webinar REMINDERS") == [
        "{{ event.meeting_id }}"
    ]
    assert names_for("delay_identifiers", project, "order", within="Order follow-ups") == [
        "{{ event.order_id }}"
    ]
    # A name no connector has (a template): every identifier of the project.
    assert names_for("delay_identifiers", project, within="{{ event.flow }}") == [
        "{{ event.meeting_id }}",
        "{{ event.order_id }}",
        "{{ event.ref }}",
    ]


def test_the_pick_endpoint_narrows_by_within(client, project, member, webinars):
    client.force_login(member)
    url = reverse("admin:actions_action_pick", args=["delay_identifiers"])

    answer = client.get(url, {"project": project.pk, "term": "", "within": "Order follow-ups"})

    assert answer.json() == {"results": ["{{ event.order_id }}"]}


def test_the_action_page_shows_the_targets_as_rows_of_pickers(client, project, member, webinars):
    step = webinars.steps.get()
    client.force_login(member)

    page = client.get(
        reverse("admin:actions_action_add"), {"type": "cancel_delay", "step": step.pk}
    )

    box = str(page.context["adminform"].form["config__targets"])
    assert 'data-picky-rows="list"' in box and 'data-picky-item="fields"' in box
    assert 'data-picky-noun="Target"' in box
    assert 'data-picky-own-connector="Cancellations"' in box
    start = box.index('data-picky-fields="') + len('data-picky-fields="')
    fields = json.loads(box[start : box.index('"', start)].replace("&quot;", '"'))
    assert [(field["key"], field.get("within", "")) for field in fields] == [
        ("connector", ""),
        ("identifier", "connector"),
    ]
    assert fields[0]["url"] == f"/admin/actions/action/pick/connectors/?project={project.pk}"
    assert fields[1]["url"] == (
        f"/admin/actions/action/pick/delay_identifiers/?project={project.pk}"
    )


def post_targets(client, step, targets):
    return client.post(
        reverse("admin:actions_action_add") + f"?type=cancel_delay&step={step.pk}",
        {
            "step": step.pk,
            "name": "",
            "enabled": "on",
            "config__targets": json.dumps(targets),
            "config__then": "continue",
        },
    )


def test_rows_save_as_the_json_they_always_were(client, project, member, webinars):
    step = webinars.steps.get()
    client.force_login(member)
    targets = [
        {"connector": "Webinar reminders", "identifier": "{{ event.meeting_id }}"},
        {"identifier": "{{ event.ref }}"},
    ]

    answer = post_targets(client, step, targets)

    assert answer.status_code == 302
    assert step.actions.get().config == {"targets": targets, "then": "continue"}


def test_a_row_without_identifier_is_refused_naming_the_row(client, project, member, webinars):
    step = webinars.steps.get()
    client.force_login(member)

    answer = post_targets(
        client, step, [{"connector": "Webinar reminders", "identifier": "{{ event.id }}"}, {}]
    )

    assert answer.status_code == 200
    assert answer.context["adminform"].form.errors["config__targets"] == [
        "Target 2: the identifier is required."
    ]
    assert not step.actions.exists()
