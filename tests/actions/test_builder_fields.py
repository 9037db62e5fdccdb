"""Action pages: list and key/value settings are rows (one RowsInput for every type), and
every template box carries data-picky-template for the attribute picker."""

import pytest

from actions.admin import CONFIG_PREFIX, action_form_for
from actions.registry import all_types, get_type
from actions.types.fields import RowsInput, TextListField
from tests.builders import build_connector


def test_every_list_and_key_value_setting_of_every_type_is_rows():
    checked = 0
    for key, action_type in all_types().items():
        form = action_form_for(action_type)()
        for name, field in action_type.form_class.base_fields.items():
            if isinstance(field, TextListField) or getattr(field, "rows", ""):
                widget = form.fields[CONFIG_PREFIX + name].widget
                assert isinstance(widget, RowsInput), (key, name)
                checked += 1
    assert checked > 10


def test_the_rows_of_each_kind():
    headers = action_form_for(get_type("http_request"))()
    html = str(headers[CONFIG_PREFIX + "headers"])
    assert 'data-picky-rows="map"' in html
    body = str(headers[CONFIG_PREFIX + "body"])
    assert 'data-picky-rows="map"' in body and 'data-picky-any="1"' in body
    card = str(action_form_for(get_type("add_event_feed"))()[CONFIG_PREFIX + "buttons"])
    assert 'data-picky-item="map"' in card and "&quot;url&quot;" in card  # the keys offered
    message = action_form_for(get_type("send_message"))()
    assert 'data-picky-rows="list"' in str(message[CONFIG_PREFIX + "to"])
    assert 'data-picky-rows="list"' in str(message[CONFIG_PREFIX + "template_params"])


def test_template_boxes_carry_the_picker_mark():
    form = action_form_for(get_type("send_email"))()
    for name in ("subject", "body", "reply_to"):
        assert "data-picky-template" in str(form[CONFIG_PREFIX + name]), name
    # Names of the action itself and choices are not templates.
    assert "data-picky-template" not in str(form[CONFIG_PREFIX + "save_as"])
    assert "data-picky-template" not in str(form[CONFIG_PREFIX + "fallback"])


class TestRowsInput:
    def read(self, text, parses_json=True):
        widget = RowsInput("list")
        widget.parses_json = parses_json
        return widget.value_from_datadict({"to": text}, {}, "to")

    def test_the_json_the_rows_wrote_is_read_as_the_value(self):
        assert self.read('["a@x.com", "{{ event.email }}"]') == ["a@x.com", "{{ event.email }}"]
        assert RowsInput("map").value_from_datadict({"h": '{"A": "1"}'}, {}, "h") == {"A": "1"}

    def test_text_that_is_not_json_is_kept_as_typed(self):
        assert self.read("a@x.com, b@x.com") == "a@x.com, b@x.com"
        assert self.read('["a@x.com"') == '["a@x.com"'
        # A JSON field reads its text itself (and says where it breaks).
        assert self.read('["a"]', parses_json=False) == '["a"]'

    def test_a_setting_of_any_json_reads_numbers_and_keeps_text(self):
        body = RowsInput("map", any_json=True)
        assert body.value_from_datadict({"b": "42"}, {}, "b") == 42
        assert body.value_from_datadict({"b": "Hello {{ x }}"}, {}, "b") == "Hello {{ x }}"
        assert body.value_from_datadict({"b": '"quoted"'}, {}, "b") == '"quoted"'

    def test_values_show_as_json(self):
        assert RowsInput("list").format_value(["a", 1]) == '[\n  "a",\n  1\n]'
        assert RowsInput("map").format_value(None) == ""
        assert RowsInput("map").format_value("typed") == "typed"


@pytest.mark.django_db
def test_contact_attributes_save_from_the_rows_json(client, project, member):
    connector = build_connector(project, steps=[{"actions": []}])
    step = connector.steps.get()
    client.force_login(member)
    answer = client.post(
        f"/admin/actions/action/add/?type=map_contact&step={step.pk}",
        {
            "step": step.pk,
            "name": "",
            "enabled": "on",
            "config__number": "{{ event.phone }}",
            "config__attributes": '{"city": "{{ event.city }}", "plan": "gold"}',
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert step.actions.get().config["attributes"] == {"city": "{{ event.city }}", "plan": "gold"}
