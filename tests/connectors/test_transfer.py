import copy
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db.models.signals import pre_save

from actions.models import Action
from connectors import engine
from connectors.models import Connector, Step
from connectors.transfer import FORMAT, ConnectorImportError, export_connector, import_connector
from picky.secret_values import MASK
from teambox.models import Channel

pytestmark = pytest.mark.django_db

DOCUMENT = {
    "format": FORMAT,
    "name": "Website leads",
    "description": "Leads from the contact form",
    "enabled": True,
    "field_mapping": {
        "number": "{{ event.phone }}",
        "name": "{{ event.name }}",
        "email": "{{ event.email }}",
        "attributes": {"state": "{{ event.state }}", "source": "website"},
    },
    "steps": [
        {
            "name": "Remind 2 hours before the webinar",
            "delay": {
                "mode": "relative",
                "field": "{{ event.webinar.start }}",
                "offset": -2,
                "unit": "hours",
                "identifier": "{{ event.meeting_id }}",
                "if_past": "skip",
            },
            "filters": [
                [{"field": "{{ event.state }}", "op": "equals", "value": "Kerala"}],
                [
                    {"field": "{{ event.score }}", "op": "between", "value": "1", "value2": "9"},
                    {"field": "{{ event.vip }}", "op": "is_true"},
                ],
            ],
            "iterator": None,
            "actions": [
                {
                    "type": "send_email",
                    "name": "Reminder",
                    "config": {
                        "to": ["{{ contact.email }}"],
                        "subject": "See you soon, {{ contact.name }}",
                        "body": "The webinar starts at {{ event.webinar.start }}.",
                        "html": False,
                    },
                },
                {
                    "type": "set_variable",
                    "enabled": False,
                    "config": {"name": "greeting", "value": "Hello {{ event.name }}"},
                },
            ],
        },
        {
            "name": "Count products",
            "delay": {"mode": "fixed", "amount": 3, "unit": "days", "identifier": ""},
            "filters": [],
            "iterator": {"path": "event.items", "max": 20},
            "actions": [
                {"type": "trigger_counter", "config": {"name": "{{ item.sku }}", "amount": 2}},
                {"type": "stop_processing", "config": {"fallback": "continue"}},
            ],
        },
    ],
}


def errors_of(data, project, **kwargs):
    with pytest.raises(ConnectorImportError) as caught:
        import_connector(project, data, **kwargs)
    return caught.value.errors


def rows_of(connector):
    """Everything import/export carries, read from the rows, without ids and tokens."""
    return {
        "connector": Connector.objects.filter(pk=connector.pk)
        .values("name", "description", "enabled", "field_mapping")
        .get(),
        "steps": list(
            Step.objects.filter(connector=connector).values(
                "position", "name", "delay", "filters", "iterator"
            )
        ),
        "actions": list(
            Action.objects.filter(step__connector=connector)
            .order_by("step__position", "position")
            .values("step__position", "position", "type", "name", "config", "enabled")
        ),
    }


class TestRoundTrip:
    def test_import_then_export_gives_the_document_back(self, project):
        connector = import_connector(project, copy.deepcopy(DOCUMENT))
        assert export_connector(connector) == DOCUMENT

    def test_export_then_import_gives_an_equal_connector_with_a_new_token(
        self, project, other_project
    ):
        original = import_connector(project, copy.deepcopy(DOCUMENT))
        text = json.dumps(export_connector(original))

        copied = import_connector(other_project, json.loads(text))

        assert copied.project == other_project
        assert copied.token != original.token
        assert rows_of(copied) == rows_of(original)
        assert export_connector(copied) == export_connector(original)

    def test_defaults_are_left_out_of_the_export(self, project):
        connector = Connector.objects.create(project=project, name="Bare")
        step = Step.objects.create(connector=connector, position=0)
        Action.objects.create(step=step, type="stop_processing", config={})

        assert export_connector(connector) == {
            "format": FORMAT,
            "name": "Bare",
            "enabled": True,
            "field_mapping": {},
            "steps": [
                {
                    "name": "",
                    "delay": None,
                    "filters": [],
                    "iterator": None,
                    "actions": [{"type": "stop_processing", "config": {}}],
                }
            ],
        }

    def test_steps_and_actions_keep_their_order(self, project):
        connector = Connector.objects.create(project=project, name="Ordered")
        second = Step.objects.create(connector=connector, position=1, name="second")
        first = Step.objects.create(connector=connector, position=0, name="first")
        Action.objects.create(step=first, position=1, type="set_variable", name="b",
                              config={"name": "b", "value": "2"})  # fmt: skip
        Action.objects.create(step=first, position=0, type="set_variable", name="a",
                              config={"name": "a", "value": "1"})  # fmt: skip
        Action.objects.create(step=second, position=0, type="stop_processing", config={})

        copied = import_connector(project, export_connector(connector), name="Ordered copy")

        exported = export_connector(copied)
        assert [s["name"] for s in exported["steps"]] == ["first", "second"]
        assert [a["name"] for a in exported["steps"][0]["actions"]] == ["a", "b"]
        assert list(copied.steps.values_list("position", flat=True)) == [0, 1]

    def test_the_config_is_stored_as_its_form_cleans_it(self, project):
        data = copy.deepcopy(DOCUMENT)
        data["steps"][1]["actions"][0]["config"] = {"name": "lamps", "amount": "5"}
        data["steps"][0]["actions"][0]["config"]["to"] = "a@example.com, b@example.com"

        connector = import_connector(project, data)

        configs = {a.type: a.config for a in Action.objects.filter(step__connector=connector)}
        assert configs["trigger_counter"] == {"name": "lamps", "amount": 5}
        assert configs["send_email"]["to"] == ["a@example.com", "b@example.com"]

    def test_a_name_clash_is_an_error_and_a_new_name_resolves_it(self, project):
        import_connector(project, copy.deepcopy(DOCUMENT))

        errors = errors_of(copy.deepcopy(DOCUMENT), project)
        assert errors == [
            (
                "name",
                "A connector named 'Website leads' already exists in this project; "
                "import it under another name",
            )
        ]

        renamed = import_connector(project, copy.deepcopy(DOCUMENT), name="Website leads 2")
        assert renamed.name == "Website leads 2"
        assert Connector.objects.filter(project=project).count() == 2

    def test_a_name_taken_while_importing_is_the_same_clear_error(self, project):
        def take_the_name_first(sender, instance, **kwargs):
            if instance.pk is None:
                Connector.objects.bulk_create([Connector(project=project, name=instance.name)])

        pre_save.connect(take_the_name_first, sender=Connector)
        try:
            errors = errors_of(copy.deepcopy(DOCUMENT), project)
        finally:
            pre_save.disconnect(take_the_name_first, sender=Connector)

        assert errors == [
            (
                "name",
                "A connector named 'Website leads' already exists in this project; "
                "import it under another name",
            )
        ]
        assert not Step.objects.exists()

    def test_the_same_name_in_another_project_is_fine(self, project, other_project):
        import_connector(project, copy.deepcopy(DOCUMENT))
        assert import_connector(other_project, copy.deepcopy(DOCUMENT)).name == "Website leads"


class TestValidation:
    def test_every_problem_is_reported_with_its_path_and_nothing_is_written(self, project):
        data = copy.deepcopy(DOCUMENT)
        data["format"] = "zapier/v2"
        data["colour"] = "blue"
        data["field_mapping"]["number"] = "{{ event.phone[ }}"
        first, second = data["steps"]
        first["filters"][1][0]["op"] = "roughly"
        first["delay"]["unit"] = "fortnights"
        first["actions"][0]["config"] = {"to": ["not-an-address"], "body": "Hi"}
        first["actions"][1]["type"] = "teleport"
        second["iterator"] = {"path": "event.items", "max": 0}
        second["actions"][0]["enabled"] = "yes"

        errors = errors_of(data, project)

        paths = [path for path, _ in errors]
        assert paths == [
            "format",
            "colour",
            "field_mapping.number",
            "steps[0].filters[1][0].op",
            "steps[0].delay.unit",
            "steps[0].actions[0].config.to",
            "steps[0].actions[0].config.subject",
            "steps[0].actions[1].type",
            "steps[1].iterator.max",
            "steps[1].actions[0].enabled",
        ]
        messages = dict(errors)
        assert messages["format"] == 'must be "picky.connector/v1"'
        assert (
            "'not-an-address' is not a valid email address"
            in messages["steps[0].actions[0].config.to"]
        )
        assert messages["steps[0].actions[0].config.subject"] == "This field is required."
        assert messages["steps[0].actions[1].type"] == "unknown action type ('teleport')"
        assert "'roughly' is not an operator" in messages["steps[0].filters[1][0].op"]
        assert "fortnights" in messages["steps[0].delay.unit"]
        assert Connector.objects.count() == 0
        assert Step.objects.count() == 0

    def test_a_pattern_re2_cannot_take_is_refused_with_its_path(self, project):
        data = copy.deepcopy(DOCUMENT)
        data["steps"][0]["filters"][1][0] = {
            "field": "{{ event.email }}",
            "op": "matches_regex",
            "value": "(?<!admin)@example\\.com$",
        }

        [(path, message)] = errors_of(data, project)

        assert path == "steps[0].filters[1][0].value"
        assert message.startswith("This pattern uses a negative look-behind ((?<!...))")
        assert not Connector.objects.exists()

    def test_the_error_text_lists_one_problem_per_line(self, project):
        data = copy.deepcopy(DOCUMENT)
        data["format"] = None
        data["steps"][0]["actions"][0]["config"]["subject"] = ""

        with pytest.raises(ConnectorImportError) as caught:
            import_connector(project, data)

        assert str(caught.value).splitlines() == [
            'format: must be "picky.connector/v1"',
            "steps[0].actions[0].config.subject: This field is required.",
        ]

    @pytest.mark.parametrize(
        "data, expected",
        [
            ([1, 2], [("", "the connector JSON must be an object, not a list")]),
            ({"format": FORMAT}, [("name", "must be text, not null")]),
            ({"format": FORMAT, "name": "  "}, [("name", "is required")]),
            ({"format": FORMAT, "name": "x" * 201}, [("name", "must be at most 200 characters")]),
            (
                {"format": FORMAT, "name": "A", "steps": {"name": "one"}},
                [("steps", "must be a list of steps, not an object")],
            ),
            (
                {"format": FORMAT, "name": "A", "steps": ["first"]},
                [("steps[0]", "must be an object, not text")],
            ),
            (
                {"format": FORMAT, "name": "A", "enabled": "true"},
                [("enabled", "must be true or false, not text")],
            ),
            (
                {
                    "format": FORMAT,
                    "name": "A",
                    "steps": [{"actions": [{"type": "stop_processing", "config": []}]}],
                },
                [("steps[0].actions[0].config", "must be an object, not a list")],
            ),  # fmt: skip
            (
                {"format": FORMAT, "name": "A", "steps": [{"actions": [{"config": {}}]}]},
                [("steps[0].actions[0].type", "unknown action type (missing)")],
            ),
            (
                {"format": FORMAT, "name": "A", "steps": [{"filter": []}]},
                [
                    (
                        "steps[0].filter",
                        "unknown key; known keys: name, delay, filters, iterator, actions",
                    )
                ],
            ),  # fmt: skip
        ],
    )
    def test_shape_errors(self, project, data, expected):
        assert errors_of(data, project) == expected

    @pytest.mark.parametrize(
        "iterator, path, message",
        [
            ("event.items", "steps[0].iterator", "must be null or an object, not text"),
            ({"max": 5}, "steps[0].iterator.path", "is required"),
            ({"path": "{{ event.items }}"}, "steps[0].iterator.path", "without {{ }}"),
            ({"path": "event.items", "max": "10"}, "steps[0].iterator.max", "whole number"),
            ({"path": "event.items", "limit": 3}, "steps[0].iterator.limit", "unknown key"),
        ],
    )
    def test_iterator_errors(self, project, iterator, path, message):
        data = {"format": FORMAT, "name": "A", "steps": [{"iterator": iterator}]}
        [(error_path, error_message)] = errors_of(data, project)
        assert error_path == path
        assert message in error_message

    @pytest.mark.parametrize(
        "delay, path",
        [
            ("3 days", "steps[0].delay"),
            ({"mode": "sometime", "amount": 1}, "steps[0].delay.mode"),
            ({"mode": "fixed", "unit": "days"}, "steps[0].delay.amount"),
            ({"mode": "fixed", "amount": 1, "unit": "hours", "at": "25:00"}, "steps[0].delay.at"),
            ({"mode": "relative", "offset": -2, "unit": "hours"}, "steps[0].delay.field"),
            (
                {"mode": "relative", "field": "{{ event.at }}", "if_past": "later"},
                "steps[0].delay.if_past",
            ),
        ],  # fmt: skip
    )
    def test_delay_errors(self, project, delay, path):
        data = {"format": FORMAT, "name": "A", "steps": [{"delay": delay}]}
        assert [error_path for error_path, _ in errors_of(data, project)] == [path]

    @pytest.mark.parametrize(
        "mapping, path, message",
        [
            ("{{ event.phone }}", "field_mapping", "must be an object, not text"),
            ({"phone": "{{ event.phone }}"}, "field_mapping.phone", "unknown key"),
            ({"number": 919847012345}, "field_mapping.number", "must be text (a template)"),
            ({"email": "{{ event.email | }}"}, "field_mapping.email", "Invalid path"),
            ({"attributes": ["state"]}, "field_mapping.attributes", "must be an object"),
            ({"attributes": {"state": "{{ a[ }}"}}, "field_mapping.attributes.state", "Invalid"),
            ({"attributes": {"tags": ["a"]}}, "field_mapping.attributes.tags", "not a list"),
        ],
    )
    def test_field_mapping_errors(self, project, mapping, path, message):
        data = {"format": FORMAT, "name": "A", "field_mapping": mapping}
        [(error_path, error_message)] = errors_of(data, project)
        assert error_path == path
        assert message in error_message


class TestCommands:
    def test_export_to_stdout(self, project):
        connector = import_connector(project, copy.deepcopy(DOCUMENT))
        out = io.StringIO()

        call_command("export_connector", project="acme", name=connector.name, stdout=out)

        assert json.loads(out.getvalue()) == DOCUMENT

    def test_export_to_a_file_then_import_it(self, project, other_project, tmp_path):
        import_connector(project, copy.deepcopy(DOCUMENT))
        target = tmp_path / "leads.json"

        call_command("export_connector", project="acme", name="Website leads",
                     output=str(target), stderr=io.StringIO())  # fmt: skip
        out = io.StringIO()
        call_command("import_connector", str(target), project="globex", stdout=out)

        copied = Connector.objects.get(project=other_project)
        assert export_connector(copied) == DOCUMENT
        assert out.getvalue().strip() == (
            f"Imported 'Website leads' (id {copied.pk}): {copied.url}"
        )

    def test_import_from_stdin_under_another_name(self, project):
        out = io.StringIO()
        call_command("import_connector", "-", project="acme", name="Copy",
                     stdin=io.StringIO(json.dumps(DOCUMENT)), stdout=out)  # fmt: skip
        assert Connector.objects.get(project=project).name == "Copy"

    def test_import_prints_every_error_on_its_own_line(self, project, tmp_path):
        data = copy.deepcopy(DOCUMENT)
        data["format"] = "v0"
        data["steps"][1]["actions"][0]["type"] = "nope"
        source = tmp_path / "bad.json"
        source.write_text(json.dumps(data))

        with pytest.raises(CommandError) as caught:
            call_command("import_connector", str(source), project="acme")

        assert str(caught.value).splitlines() == [
            f"{source}: the connector JSON has 2 problems:",
            'format: must be "picky.connector/v1"',
            "steps[1].actions[0].type: unknown action type ('nope')",
        ]
        assert not Connector.objects.exists()

    def test_import_of_malformed_json_says_where(self, project, tmp_path):
        source = tmp_path / "broken.json"
        source.write_text('{"format": "picky.connector/v1",\n "name": }')

        with pytest.raises(
            CommandError, match="Not valid JSON: Expecting value at line 2, column 10"
        ):
            call_command("import_connector", str(source), project="acme")

    @pytest.mark.parametrize(
        "command, args, message",
        [
            ("export_connector", {"project": "nope", "name": "x"}, "No project with slug 'nope'"),
            ("export_connector", {"project": "acme", "name": "x"}, "no connector named 'x'"),
            ("import_connector", {"project": "nope"}, "No project with slug 'nope'"),
        ],
    )
    def test_unknown_project_or_connector(self, project, tmp_path, command, args, message):
        positional = [str(tmp_path / "missing.json")] if command == "import_connector" else []
        with pytest.raises(CommandError, match=message):
            call_command(command, *positional, **args)

    def test_import_of_a_missing_file(self, project, tmp_path):
        with pytest.raises(CommandError, match="Cannot read .*missing.json: No such file"):
            call_command("import_connector", str(tmp_path / "missing.json"), project="acme")


# DESIGN.md, "Connector JSON", as written there.
DESIGN_EXAMPLE = """
{
  "format": "picky.connector/v1",
  "name": "Website leads",
  "enabled": true,
  "field_mapping": {"number": "{{ event.phone }}", "name": "{{ event.name }}",
                    "email": "{{ event.email }}", "attributes": {"state": "{{ event.state }}"}},
  "steps": [
    {
      "name": "Remind 2 hours before the webinar",
      "delay": {"mode": "relative", "field": "{{ event.webinar.start }}",
                "offset": -2, "unit": "hours", "identifier": "{{ event.meeting_id }}",
                "if_past": "skip"},
      "filters": [[{"field": "{{ event.state }}", "op": "equals", "value": "Kerala"}]],
      "iterator": null,
      "actions": [
        {"type": "send_message", "config": {"channel": "WhatsApp", "to": ["{{ contact.number }}"], "text": "See you soon, {{ contact.name }}"}},
        {"type": "http_request", "config": {"method": "POST", "url": "https://api.example.com/x",
          "headers": {"X-Key": "k"}, "body_type": "json", "body": {"id": "{{ event.id }}"},
          "save_as": "crm", "fallback": "continue", "alert_emails": ["ops@example.com"], "timeout": 30}}
      ]
    }
  ]
}
"""  # noqa: E501


class TestDesignExample:
    def test_imports_as_written_and_sends_through_its_channel(self, project):
        Channel.objects.create(project=project, name="WhatsApp", kind=Channel.Kind.SANDBOX)
        written = json.loads(DESIGN_EXAMPLE)

        connector = import_connector(project, copy.deepcopy(written))

        exported = export_connector(connector)
        assert {key: exported[key] for key in written if key != "steps"} == {
            key: value for key, value in written.items() if key != "steps"
        }
        step = exported["steps"][0]
        assert {key: step[key] for key in ("name", "delay", "filters", "iterator")} == {
            key: written["steps"][0][key] for key in ("name", "delay", "filters", "iterator")
        }
        assert [action["type"] for action in step["actions"]] == ["send_message", "http_request"]
        assert step["actions"][1]["config"]["headers"] == {"X-Key": MASK}
        payload = {"phone": "919847012345", "name": "Asha", "state": "Kerala"}
        payload |= {"webinar": {"start": "2030-01-01T10:00:00Z"}, "meeting_id": "m-1"}
        simulation = engine.simulate(connector, payload)
        sent = next(log for log in simulation.logs if log["action_type"] == "send_message")
        assert sent["status"] == "ran", sent["error"]
        assert sent["outputs"]["channel"] == "WhatsApp"
        assert sent["outputs"]["would_send"] == ["919847012345"]
