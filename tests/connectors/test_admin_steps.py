"""The step page (filters, iterator, delay, ordered actions) and the action page
(each type's own settings form)."""

import json

import pytest

from actions.models import Action
from connectors.models import Step
from tests.builders import build_connector


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def flow(project):
    return build_connector(
        project,
        name="Leads",
        steps=[
            {
                "name": "Thank",
                "actions": [
                    (
                        "send_email",
                        {"to": ["a@example.com"], "subject": "Hi", "body": "Thanks"},
                    ),
                    ("set_variable", {"name": "greeting", "value": "Hello"}),
                ],
            }
        ],
    )


def step_url(step):
    return f"/admin/connectors/step/{step.pk}/change/"


def step_form(step, **overrides):
    actions = list(step.actions.all())
    data = {
        "name": step.name,
        "filters": json.dumps(step.filters),
        "iterator": json.dumps(step.iterator),
        "delay": json.dumps(step.delay),
        "actions-TOTAL_FORMS": str(len(actions)),
        "actions-INITIAL_FORMS": str(len(actions)),
        "actions-MIN_NUM_FORMS": "0",
        "actions-MAX_NUM_FORMS": "1000",
    }
    for index, action in enumerate(actions):
        data[f"actions-{index}-id"] = str(action.pk)
        data[f"actions-{index}-step"] = str(step.pk)
        data[f"actions-{index}-name"] = action.name
        data[f"actions-{index}-enabled"] = "on" if action.enabled else ""
        data[f"actions-{index}-position"] = str(action.position)
    data.update(overrides)
    return data


@pytest.mark.django_db
class TestStepPage:
    def test_lists_actions_with_their_settings_and_buttons(self, member_client, flow):
        step = flow.steps.get()
        email = step.actions.get(type="send_email")
        content = member_client.get(step_url(step)).content.decode()
        assert "Send Email" in content and "Set Variable" in content
        assert "to: a@example.com · subject: Hi · body: Thanks" in content
        assert f"/admin/actions/action/{email.pk}/change/" in content
        assert f"/admin/actions/action/add/?step={step.pk}" in content
        assert f'href="/admin/connectors/connector/{flow.pk}/change/">Leads</a>' in content

    def test_shows_the_buttons_of_a_type(self, member_client, project):
        connector = build_connector(
            project,
            steps=[
                {"actions": [("cancel_delay", {"targets": [{"connector": "", "identifier": "x"}]})]}
            ],
        )
        content = member_client.get(step_url(connector.steps.get())).content.decode()
        assert "/admin/connectors/scheduledstep/?connector=" in content

    def test_saves_filters_iterator_and_delay(self, member_client, flow):
        step = flow.steps.get()
        filters = [[{"field": "{{ event.state }}", "op": "equals", "value": "Kerala"}]]
        iterator = {"path": "event.items", "max": 50}
        delay = {"mode": "fixed", "amount": 2, "unit": "hours"}
        response = member_client.post(
            step_url(step),
            step_form(
                step,
                filters=json.dumps(filters),
                iterator=json.dumps(iterator),
                delay=json.dumps(delay),
            ),
        )
        assert response.status_code == 302
        assert response["Location"] == f"/admin/connectors/connector/{flow.pk}/change/"
        step.refresh_from_db()
        assert (step.filters, step.iterator, step.delay) == (filters, iterator, delay)

    @pytest.mark.parametrize(
        "field,value,message",
        [
            ("filters", '[[{"field": "{{ event.a }}", "op": "resembles"}]]', "filters[0][0].op: "),
            ("filters", '{"field": "x"}', "filters: must be a list of groups"),
            (
                "filters",
                '[[{"field": "{{ event.a }}", "op": "matches_regex", "value": "x(?=y)"}]]',
                "filters[0][0].value: This pattern uses a look-ahead ((?=...)), which Picky",
            ),
            ("filters", "[[{]]", "Not valid JSON: "),
            ("iterator", '{"path": "event..items"}', "iterator.path: "),
            ("iterator", '{"path": "event.items", "max": 0}', "iterator.max: "),
            ("delay", '{"mode": "fixed", "amount": 2, "unit": "fortnights"}', "delay.unit: "),
            ("delay", '{"mode": "sometime"}', "delay.mode: "),
        ],
    )
    def test_errors_say_where(self, member_client, flow, field, value, message):
        step = flow.steps.get()
        response = member_client.post(step_url(step), step_form(step, **{field: value}))
        assert response.status_code == 200
        assert message in response.content.decode()
        step.refresh_from_db()
        assert (step.filters, step.iterator, step.delay) == ([], None, None)

    def test_actions_reorder(self, member_client, flow):
        step = flow.steps.get()
        email, variable = step.actions.order_by("position")
        data = step_form(step)
        index = {action.pk: i for i, action in enumerate(step.actions.all())}
        data[f"actions-{index[email.pk]}-position"] = "2"
        data[f"actions-{index[variable.pk]}-position"] = "1"
        data[f"actions-{index[email.pk]}-enabled"] = ""
        assert member_client.post(step_url(step), data).status_code == 302
        assert [a.type for a in step.actions.order_by("position")] == [
            "set_variable",
            "send_email",
        ]
        email.refresh_from_db()
        assert not email.enabled

    def test_adding_a_step_puts_it_last_and_opens_it(self, member_client, flow):
        response = member_client.post(
            "/admin/connectors/step/add/",
            {"connector": flow.pk, "name": "Later", "filters": "[]", "iterator": "", "delay": ""},
        )
        step = Step.objects.get(name="Later")
        assert response["Location"] == step_url(step)
        assert step.position == 1
        assert (step.filters, step.iterator, step.delay) == ([], None, None)

    def test_add_form_preselects_the_connector(self, member_client, flow):
        response = member_client.get(f"/admin/connectors/step/add/?connector={flow.pk}")
        assert response.context["adminform"].form.initial["connector"] == str(flow.pk)


def action_url(action):
    return f"/admin/actions/action/{action.pk}/change/"


@pytest.mark.django_db
class TestActionPage:
    def test_add_starts_with_the_type_chooser(self, member_client, flow):
        step = flow.steps.get()
        content = member_client.get(f"/admin/actions/action/add/?step={step.pk}").content.decode()
        assert "Choose the type of action" in content
        assert "Notification" in content and "Formatter" in content
        assert f"/admin/actions/action/add/?type=send_email&amp;step={step.pk}" in content

    def test_unknown_type_goes_back_to_the_chooser(self, member_client, flow):
        content = member_client.get("/admin/actions/action/add/?type=teleport").content.decode()
        assert "There is no action type teleport" in content

    def test_add_shows_the_type_form(self, member_client, flow):
        step = flow.steps.get()
        response = member_client.get(f"/admin/actions/action/add/?type=send_email&step={step.pk}")
        form = response.context["adminform"].form
        assert {"config__to", "config__subject", "config__body", "config__fallback"} <= set(
            form.fields
        )
        content = response.content.decode()
        assert "Send Email settings" in content and "Up to 10 addresses" in content
        assert form.initial["step"] == str(step.pk)

    def test_add_saves_the_cleaned_config_last_in_the_step(self, member_client, flow):
        step = flow.steps.get()
        response = member_client.post(
            f"/admin/actions/action/add/?type=send_email&step={step.pk}",
            {
                "step": step.pk,
                "name": "Notify sales",
                "enabled": "on",
                "config__to": "sales@example.com, {{ event.rep_email }}",
                "config__subject": "New lead {{ event.name }}",
                "config__body": "Call them",
                "config__fallback": "continue",
            },
        )
        assert response.status_code == 302
        assert response["Location"] == step_url(step)
        action = Action.objects.get(name="Notify sales")
        assert action.type == "send_email"
        assert action.position == 2
        assert action.config == {
            "to": ["sales@example.com", "{{ event.rep_email }}"],
            "subject": "New lead {{ event.name }}",
            "body": "Call them",
            "html": False,
            "fallback": "continue",
        }

    def test_errors_are_shown_at_their_field(self, member_client, flow):
        step = flow.steps.get()
        response = member_client.post(
            f"/admin/actions/action/add/?type=send_email&step={step.pk}",
            {
                "step": step.pk,
                "enabled": "on",
                "config__to": "not-an-address",
                "config__body": "Hi {{ event..name }}",
                "config__save_as": "9lives",
            },
        )
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors
        assert "'not-an-address' is not a valid email address." in errors["config__to"]
        assert errors["config__subject"] == ["This field is required."]
        assert not Action.objects.filter(step=step, position=2).exists()

    def test_template_errors_come_from_the_type_form(self, member_client, flow):
        step = flow.steps.get()
        response = member_client.post(
            f"/admin/actions/action/add/?type=send_email&step={step.pk}",
            {
                "step": step.pk,
                "config__to": "a@example.com",
                "config__subject": "Hi",
                "config__body": "Hi {{ event..name }}",
            },
        )
        errors = response.context["adminform"].form.errors
        assert "Invalid path" in " ".join(errors["config__body"])

    def test_change_shows_and_keeps_the_config(self, member_client, flow):
        action = flow.steps.get().actions.get(type="send_email")
        action.config = {
            "to": ["a@example.com", "b@example.com"],
            "subject": "Hi",
            "body": "Thanks",
            "html": False,
        }
        action.save()
        response = member_client.get(action_url(action))
        content = response.content.decode()
        # A list setting is rows (picky/builder.js) over its JSON, which the page submits.
        assert 'data-picky-rows="list"' in content
        assert (
            "[\n  &quot;a@example.com&quot;,\n  &quot;b@example.com&quot;\n]</textarea>" in content
        )
        data = {
            "name": "",
            "enabled": "on",
            "config__to": "a@example.com, b@example.com",
            "config__subject": "Hi",
            "config__body": "Thanks",
        }
        assert member_client.post(action_url(action), data).status_code == 302
        before = dict(action.config)
        action.refresh_from_db()
        assert action.config == before

    @pytest.mark.parametrize(
        "text,stored",
        [
            ('{"plan": "gold", "seats": 3}', {"plan": "gold", "seats": 3}),
            ("Hello {{ contact.name }}", "Hello {{ contact.name }}"),
            ("42", 42),
            ('"quoted"', '"quoted"'),
        ],
    )
    def test_json_values_are_read_back(self, member_client, flow, text, stored):
        action = flow.steps.get().actions.get(type="set_variable")
        data = {"enabled": "on", "config__name": "greeting", "config__value": text}
        assert member_client.post(action_url(action), data).status_code == 302
        action.refresh_from_db()
        assert action.config["value"] == stored

    def test_object_values_show_as_json(self, member_client, flow):
        action = flow.steps.get().actions.get(type="set_variable")
        action.config = {"name": "plan", "value": {"tier": "gold"}}
        action.save()
        content = member_client.get(action_url(action)).content.decode()
        assert "{\n  &quot;tier&quot;: &quot;gold&quot;\n}" in content

    def test_list_of_objects_round_trips(self, member_client, project):
        connector = build_connector(
            project, steps=[{"actions": [("cancel_delay", {"targets": []})]}]
        )
        action = connector.steps.get().actions.get()
        targets = [{"connector": "", "identifier": "{{ event.meeting_id }}"}]
        data = {"enabled": "on", "config__targets": json.dumps(targets), "config__then": "stop"}
        assert member_client.post(action_url(action), data).status_code == 302
        action.refresh_from_db()
        assert action.config == {"targets": targets, "then": "stop"}
        content = member_client.get(action_url(action)).content.decode()
        assert "&quot;identifier&quot;: &quot;{{ event.meeting_id }}&quot;" in content
        assert "/admin/connectors/scheduledstep/?connector=" in content

    def test_unknown_type_cannot_be_saved(self, member_client, flow):
        action = Action.objects.create(step=flow.steps.get(), type="retired_type", config={})
        response = member_client.get(action_url(action))
        assert "Unknown type &#x27;retired_type&#x27;" in response.content.decode()
        response = member_client.post(action_url(action), {"enabled": "on"})
        assert response.status_code == 200
        assert "no registered type has this key" in response.content.decode()
