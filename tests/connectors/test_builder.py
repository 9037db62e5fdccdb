"""The builder's server side: a filter in words, template warnings over the sample's paths,
the delay preview (the engine's own planner), and the pages that show them."""

import json
from datetime import UTC, datetime

import pytest
import time_machine

from actions.models import Action
from connectors.admin.connectors import delay_text
from connectors.admin.template_paths import TemplateScope, picker_tree, scope_for, template_warnings
from connectors.filters import OPERATOR_WORDS, OPERATORS, filter_summary
from connectors.models import Connector, Step
from tests.builders import build_connector
from tests.connectors.test_admin_steps import step_form

SAMPLE = {
    "name": "Asha",
    "state": "Kerala",
    "amount": 1500,
    "webinar": {"start": "2026-12-09T18:30:00+05:30"},
    "items": [{"sku": "LAMP-1", "qty": 2}, {"sku": "LAMP-2", "qty": 1}],
    "Product Interested": "Lamp",
}
# Monday 7 December 2026, 10:00 UTC (15:30 in Asia/Kolkata, the test project's zone).
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def condition(field, op, value=None, value2=None, **more):
    found = {"field": field, "op": op, **more}
    if value is not None:
        found["value"] = value
    if value2 is not None:
        found["value2"] = value2
    return found


class TestFilterSummary:
    def test_groups_read_as_or_and_conditions_as_and(self):
        groups = [
            [condition("{{ event.state }}", "equals", "Kerala")],
            [
                condition("{{ event.amount }}", "gt", 1000),
                condition("{{ contact.email }}", "is_not_empty"),
            ],
        ]
        assert filter_summary(groups) == (
            "state is Kerala, or amount is more than 1000 and contact.email is not empty"
        )

    def test_between_names_both_values_and_case_is_said(self):
        groups = [
            [condition("{{ event.amount }}", "between", "10", "20")],
            [condition("{{ event.name }}", "starts_with", "A", case_sensitive=True)],
        ]
        assert filter_summary(groups) == (
            "amount is between 10 and 20, or name starts with A (case-sensitive)"
        )

    def test_every_operator_has_words(self):
        assert set(OPERATOR_WORDS) == set(OPERATORS)
        for op in OPERATORS:
            text = filter_summary([[condition("{{ event.x }}", op, "1", "2")]])
            assert text.startswith(f"x {OPERATOR_WORDS[op]}") and "_" not in text, text

    def test_no_filter_is_empty(self):
        assert filter_summary([]) == ""
        assert filter_summary(None) == ""

    def test_the_step_list_shows_the_summary(self, member_client, project):
        connector = build_connector(
            project,
            steps=[
                {
                    "filters": [
                        [condition("{{ event.state }}", "equals", "Kerala")],
                        [condition("{{ event.amount }}", "gt", 1000)],
                    ],
                    "actions": [("stop_processing", {})],
                },
                {"actions": [("stop_processing", {})]},
            ],
        )
        page = member_client.get(f"/admin/connectors/connector/{connector.pk}/change/")
        content = page.content.decode()
        assert "runs when state is Kerala, or amount is more than 1000" in content
        assert "always runs" in content


@pytest.mark.parametrize(
    "delay,text",
    [
        (
            {"mode": "fixed", "amount": 0, "unit": "days", "at": "09:00"},
            "waits until the next 09:00",
        ),
        (
            {"mode": "fixed", "amount": 2, "unit": "days", "at": "09:00"},
            "waits 2 days, then until 09:00",
        ),
        (
            {
                "mode": "relative",
                "field": "{{ event.start }}",
                "offset": -1,
                "unit": "days",
                "at": "10:00",
            },  # fmt: skip
            "waits until 1 day before {{ event.start }} at 10:00",
        ),
    ],
)
def test_the_step_list_says_the_time_of_day(delay, text):
    assert delay_text(delay) == text


class TestTemplateWarnings:
    def scope(self, **more):
        return TemplateScope(sample=SAMPLE, **more)

    def test_a_path_of_the_sample_is_not_flagged(self):
        scope = self.scope()
        text = 'Hi {{ event.name }}, {{ event."Product Interested" }} x{{ event.items[1].qty }}'
        assert template_warnings(text, scope) == []
        assert template_warnings({"a": ["{{ event.webinar.start }}"]}, scope) == []

    def test_a_path_the_sample_lacks_is_flagged(self):
        warnings = template_warnings(
            ["{{ event.nme }}", "{{ event.items[0].price }}"], self.scope()
        )
        assert warnings == [
            "{{ event.nme }}: the sample payload has no such field.",
            "{{ event.items[0].price }}: the sample payload has no such field.",
        ]

    def test_vars_must_be_saved_by_an_earlier_action(self):
        scope = self.scope(variables={"lead": "Look up"})
        assert template_warnings("{{ vars.lead.body.id }}", scope) == []
        assert template_warnings("{{ vars.deal }}", scope) == [
            "{{ vars.deal }}: no earlier action saves vars.deal."
        ]

    def test_item_only_in_a_step_that_repeats(self):
        assert template_warnings("{{ item.sku }}", self.scope()) == [
            "{{ item.sku }}: item and index exist only in the actions of a step that repeats "
            "for each item."
        ]
        repeating = self.scope(iterator_path="event.items")
        assert template_warnings("{{ item.sku }} {{ index }}", repeating) == []
        assert template_warnings("{{ item.colour }}", repeating) == [
            "{{ item.colour }}: the sample's items have no such field."
        ]

    def test_namespaces_and_expressions(self):
        scope = self.scope()
        fine = "{{ contact.attributes.city }} {{ now.date }} {{ meta.run_id }} {{ counters.x }}"
        assert template_warnings(fine, scope) == []
        # An expression (a function, a projection) is not a plain path: not checked.
        assert template_warnings("{{ join(', ', event.tags) }} {{ event.x[*].y }}", scope) == []
        assert template_warnings("{{ now.day }}", scope) == [
            "{{ now.day }}: now has iso, date, time, timestamp."
        ]
        assert template_warnings("{{ state }}", scope)[0].startswith(
            "{{ state }}: state is not something templates read"
        )

    def test_without_a_sample_event_paths_are_not_judged(self):
        assert template_warnings("{{ event.anything }}", TemplateScope(sample=None)) == []

    def test_the_scope_of_an_action_has_the_names_saved_before_it(self, project):
        connector = build_connector(
            project,
            sample_payload=SAMPLE,
            steps=[
                {"actions": [("set_variable", {"name": "region", "value": "{{ event.state }}"})]},
                {
                    "iterator": {"path": "event.items"},
                    "actions": [
                        ("set_variable", {"name": "first", "value": "1", "save_as": "one"}),
                        ("set_variable", {"name": "second", "value": "2"}),
                    ],
                },
            ],
        )
        step = connector.steps.get(position=1)
        first, second = step.actions.order_by("position")
        assert set(scope_for(connector, step, first).variables) == {"region"}
        assert set(scope_for(connector, step, second).variables) == {"region", "first", "one"}
        assert set(scope_for(connector, step, Action(step=step)).variables) == {
            "region", "first", "one", "second",
        }  # fmt: skip
        assert scope_for(connector).variables == {}
        # The step's own filters and delay are read before its items; its actions see one.
        assert scope_for(connector, step).iterator_path == ""
        assert scope_for(connector, step, second).iterator_path == "event.items"
        groups = picker_tree(scope_for(connector, step, second))
        labels = [group["label"] for group in groups]
        assert labels[:3] == [
            "Sample payload (event)",
            "The current item",
            "Saved by earlier actions (vars)",
        ]
        item = groups[1]["nodes"][0]
        assert [child["template"] for child in item["children"]] == [
            "{{ item.sku }}",
            "{{ item.qty }}",
        ]


@pytest.mark.django_db
class TestWarningsOnThePages:
    def test_an_action_saved_with_a_missing_path_stays_with_its_warning(
        self, member_client, project
    ):
        connector = build_connector(
            project,
            sample_payload=SAMPLE,
            steps=[{"actions": [("set_variable", {"name": "who", "value": "{{ event.name }}"})]}],
        )
        action = Action.objects.get(step__connector=connector)
        url = f"/admin/actions/action/{action.pk}/change/"
        response = member_client.post(
            url,
            {
                "name": "",
                "enabled": "on",
                "config__name": "who",
                "config__value": "{{ event.nmae }}",
                "_save": "Save",
            },  # fmt: skip
        )
        assert response.status_code == 302
        assert response["Location"] == url
        action.refresh_from_db()
        assert action.config["value"] == "{{ event.nmae }}"
        page = member_client.get(url).content.decode()
        assert "Saved, with 1 template warning" in page
        assert "{{ event.nmae }}: the sample payload has no such field." in page
        assert 'id="picky-paths"' in page

    def test_a_step_without_warnings_goes_back_to_its_connector(self, member_client, project):
        connector = build_connector(project, sample_payload=SAMPLE, steps=[{"name": "One"}])
        step = connector.steps.get()
        filters = [[condition("{{ event.state }}", "equals", "Kerala")]]
        response = member_client.post(
            f"/admin/connectors/step/{step.pk}/change/",
            step_form(step, filters=json.dumps(filters), _save="Save"),
        )
        assert response.status_code == 302
        assert response["Location"] == f"/admin/connectors/connector/{connector.pk}/change/"
        step.refresh_from_db()
        assert step.filters == filters

    def test_the_field_mapping_is_warned_on_the_connector_page(self, member_client, project):
        connector = build_connector(
            project, sample_payload=SAMPLE, field_mapping={"number": "{{ event.phone }}"}
        )
        page = member_client.get(f"/admin/connectors/connector/{connector.pk}/change/")
        assert "{{ event.phone }}: the sample payload has no such field." in page.content.decode()


@pytest.mark.django_db
class TestDelayPreview:
    def preview(self, client, connector, delay):
        return client.post(
            f"/admin/connectors/connector/{connector.pk}/delay-preview/",
            json.dumps({"delay": delay}),
            content_type="application/json",
        )

    @pytest.fixture
    def connector(self, project):
        return Connector.objects.create(project=project, name="Webinar", sample_payload=SAMPLE)

    def test_a_fixed_wait(self, member_client, connector):
        with time_machine.travel(NOW, tick=False):
            answer = self.preview(
                member_client, connector, {"mode": "fixed", "amount": 2, "unit": "hours"}
            )
        assert answer.status_code == 200
        assert answer.json() == {
            "text": "For the sample payload this waits until Mon 7 Dec 17:30 (Asia/Kolkata)."
        }

    def test_relative_to_a_date_of_the_sample(self, member_client, connector):
        delay = {"mode": "relative", "field": "{{ event.webinar.start }}", "offset": -2,
                 "unit": "hours", "if_past": "skip"}  # fmt: skip
        with time_machine.travel(NOW, tick=False):
            answer = self.preview(member_client, connector, delay)
        assert answer.json()["text"] == (
            "For the sample payload this waits until Wed 9 Dec 16:30 (Asia/Kolkata)."
        )
        with time_machine.travel(datetime(2026, 12, 9, 12, 0, tzinfo=UTC), tick=False):
            answer = self.preview(member_client, connector, delay)
        assert answer.json()["text"] == (
            "For the sample payload the time (Wed 9 Dec 16:30 (Asia/Kolkata)) has passed: "
            "the step is skipped."
        )

    def test_at_a_time_of_day(self, member_client, connector):
        delay = {"mode": "fixed", "amount": 0, "unit": "days", "at": "09:00"}
        with time_machine.travel(NOW, tick=False):
            answer = self.preview(member_client, connector, delay)
        assert answer.json()["text"] == (
            "For the sample payload this waits until Tue 8 Dec 09:00 (Asia/Kolkata)."
        )

    def test_what_cannot_be_planned_says_why(self, member_client, connector):
        answer = self.preview(member_client, connector, {"mode": "fixed", "unit": "hours"})
        assert answer.json()["text"] == "Not complete yet: The amount is required (a number)."
        answer = self.preview(
            member_client,
            connector,
            {"mode": "relative", "field": "{{ event.name }}", "offset": 1, "unit": "days"},
        )
        assert answer.json()["text"].startswith(
            "For the sample payload this fails: Cannot use the date field {{ event.name }}"
        )
        bad = member_client.post(
            f"/admin/connectors/connector/{connector.pk}/delay-preview/",
            "{not json",
            content_type="application/json",
        )
        assert bad.status_code == 400
        assert bad.json()["text"]

    def test_another_projects_connector_is_not_found(self, member_client, other_project):
        theirs = Connector.objects.create(project=other_project, name="Theirs")
        answer = self.preview(member_client, theirs, None)
        assert answer.status_code == 404

    def test_the_step_form_points_its_delay_at_the_preview(self, member_client, connector):
        step = Step.objects.create(connector=connector, position=0)
        page = member_client.get(f"/admin/connectors/step/{step.pk}/change/").content.decode()
        assert (
            f'data-picky-preview="/admin/connectors/connector/{connector.pk}/delay-preview/"'
            in (page)
        )
        assert 'data-picky-builder="filters"' in page
