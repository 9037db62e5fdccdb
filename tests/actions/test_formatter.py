"""The formatter actions (format_date, math, data_parser, line_items) on the awkward values
real payloads send: numeric strings, epoch milliseconds, nulls, CJK text, money as
strings, DST edges."""

from datetime import UTC, datetime

import pytest
import time_machine
from django import forms

from actions.base import ActionContext, ActionError
from actions.registry import get_type
from connectors import engine
from tests.builders import build_connector

pytestmark = pytest.mark.django_db


def run(project, key, config, event=None):
    """Validate `config` as a save does, then run the type on `event` as a run does."""
    action_type = get_type(key)
    cleaned = action_type.validate(config, project)
    ctx = ActionContext(project=project, data={"event": event or {}, "vars": {}, "contact": {}})
    return action_type.run(ctx, action_type.render(ctx, cleaned)).outputs


def refused(key, config):
    with pytest.raises(forms.ValidationError) as caught:
        get_type(key).validate(config)
    return caught.value.message_dict


def failure(project, key, config, event=None):
    with pytest.raises(ActionError) as caught:
        run(project, key, config, event)
    return caught.value.message


# format_date (the project's zone is Asia/Kolkata, +05:30)


def test_epoch_milliseconds_as_a_string_in_the_projects_zone(project):
    out = run(project, "format_date", {"date": "{{ event.ts }}"}, {"ts": "1765278000000"})
    assert out["iso"] == "2025-12-09T16:30:00+05:30"
    assert out["text"] == "Tuesday 9 Dec 2025, 4:30 pm"
    assert out["epoch"] == 1765278000
    assert out["time_zone"] == "Asia/Kolkata"


def test_epoch_seconds_as_a_number_converted_to_another_zone(project):
    out = run(
        project,
        "format_date",
        {"date": "{{ event.ts }}", "time_zone": "America/New_York", "format": "time"},
        {"ts": 1765278000},
    )
    assert out["text"] == "6:00 am"


def test_day_first_text_and_named_formats(project):
    config = {"date": "03/04/2025 10:00", "day_first": True, "format": "date"}
    assert run(project, "format_date", config)["text"] == "3 April 2025"
    config.update(day_first=False, format="weekday")
    assert run(project, "format_date", config)["text"] == "Tuesday"  # 4 March 2025
    config.update(format="pattern", pattern="%d/%m/%Y %H:%M")
    assert run(project, "format_date", config)["text"] == "04/03/2025 10:00"


def test_adding_a_day_across_a_dst_change_keeps_the_wall_clock(project):
    config = {
        "date": "2025-03-08T10:00:00-05:00",
        "time_zone": "America/New_York",
        "format": "iso",
        "amount": "1",
        "unit": "days",
    }
    # Days are counted in the project's zone (Kolkata, no DST): 24 hours.
    assert run(project, "format_date", config)["text"] == "2025-03-09T11:00:00-04:00"
    project.time_zone = "America/New_York"
    # In New York the day of the change has 23 hours: 10:00 the next day.
    assert run(project, "format_date", config)["text"] == "2025-03-09T10:00:00-04:00"
    config.update(amount="24", unit="hours")
    assert run(project, "format_date", config)["text"] == "2025-03-09T11:00:00-04:00"


def test_a_wall_time_falling_in_a_dst_gap_moves_forward_by_the_gap(project):
    project.time_zone = "America/New_York"
    config = {"date": "2025-03-08 02:30", "amount": "1", "unit": "days", "format": "iso"}
    # 02:30 on 9 March does not exist in New York (02:00 jumps to 03:00).
    assert run(project, "format_date", config)["text"] == "2025-03-09T03:30:00-04:00"
    config.update(date="2025-11-01 01:30")
    # 01:30 on 2 November happens twice: the first one (EDT).
    assert run(project, "format_date", config)["text"] == "2025-11-02T01:30:00-04:00"


def test_subtracting_months_from_a_templated_amount(project):
    config = {"date": "2025-03-31", "amount": "{{ event.n }}", "unit": "months", "format": "date"}
    assert run(project, "format_date", config, {"n": "-1"})["text"] == "28 February 2025"
    assert "not a number" in failure(project, "format_date", config, {"n": "soon"})


def test_difference_in_days_counts_wall_days_across_dst(project):
    project.time_zone = "Europe/Berlin"
    config = {
        "operation": "difference",
        "date": "2025-03-29 12:00",
        "other_date": "2025-04-05 12:00",
        "unit": "weeks",
    }
    assert run(project, "format_date", config) == {"difference": 1, "unit": "weeks"}
    config.update(unit="hours")
    assert run(project, "format_date", config)["difference"] == 167  # one hour less
    config.update(unit="months", other_date="2024-12-29 12:00")
    assert run(project, "format_date", config)["difference"] == -3


@time_machine.travel(datetime(2025, 12, 6, 16, 30, tzinfo=UTC), tick=False)
def test_relative_format(project):
    config = {"date": "2025-12-09T16:30:00Z", "format": "relative"}
    assert run(project, "format_date", config)["text"] == "in 3 days"
    config["date"] = "2025-12-06T14:30:00Z"
    assert run(project, "format_date", config)["text"] == "2 hours ago"


def test_null_and_cjk_dates_are_step_errors_naming_the_date(project):
    config = {"date": "{{ event.when }}"}
    assert failure(project, "format_date", config, {"when": None}) == (
        "The date: The date is empty."
    )
    message = failure(project, "format_date", config, {"when": "明天下午"})
    assert message.startswith("The date: Cannot read '明天下午' as a date")


def test_format_date_settings_are_checked_at_save():
    errors = refused(
        "format_date",
        {
            "date": "now",
            "operation": "difference",
            "time_zone": "Mars/Olympus",
            "amount": "1.5",
            "format": "pattern",
        },
    )
    assert set(errors) == {"other_date", "time_zone", "amount", "pattern"}
    assert "not a whole number" in errors["amount"][0]


# math


@pytest.mark.parametrize(
    ("expression", "event", "result", "text"),
    [
        ("0.1 + 0.2", {}, 0.3, "0.3"),
        ('"{{ event.price }}" * {{ event.qty }}', {"price": "12.50", "qty": "3"}, 37.5, "37.50"),
        ('"{{ event.price }}" + 1', {"price": "$1,234.50"}, 1235.5, "1235.50"),
        (
            "sum({{ event.items[*].price }})",
            {"items": [{"price": "1.10"}, {"price": 2}]},
            3.1,
            "3.10",
        ),
        ("round(2.5) + floor(-1.5) + ceil(0.1) + abs(-2)", {}, 4, "4"),
        ("max(1, {{ event.n }}) ** 2 % 5", {"n": 3}, 4, "4"),
        ("round(10 / 3, 2)", {}, 3.33, "3.33"),
    ],
)
def test_math_in_decimals(project, expression, event, result, text):
    out = run(project, "math", {"expression": expression}, event)
    assert out == {"result": result, "text": text}


def test_math_rounds_to_decimals_half_up(project):
    out = run(project, "math", {"expression": "{{ event.a }} / 8", "decimals": 2}, {"a": 1})
    assert out == {"result": 0.13, "text": "0.13"}  # 0.125 rounds up, as on a bill


def test_math_errors_name_the_value(project):
    expression = {"expression": "{{ event.total }} / {{ event.count }}"}
    assert failure(project, "math", expression, {"total": 10, "count": 0}) == (
        "Division by zero: '0' is 0 in '10 / 0'."
    )
    assert failure(project, "math", expression, {"total": 10, "count": None}) == (
        "{{ event.count }} is empty, so the expression has no value."
    )
    assert failure(project, "math", expression, {"total": "十", "count": 1}) == (
        "'十' is not a number."
    )
    quoted = {"expression": '"{{ event.total }}" + 1'}
    assert failure(project, "math", quoted, {"total": "N/A"}) == (
        "The value 'N/A' is 'N/A', not a number."
    )


def test_math_cannot_hang_or_reach_python(project):
    assert "over 10000" in failure(project, "math", {"expression": "9 ** 9 ** 9"})
    assert "over 10000" in failure(
        project, "math", {"expression": "{{ event.n }} ** 99999"}, {"n": 2}
    )
    errors = refused("math", {"expression": "__import__('os').system('true')"})
    assert "is not a function math knows" in errors["expression"][0]
    errors = refused("math", {"expression": "(1).__class__"})
    assert "is not arithmetic" in errors["expression"][0]
    assert failure(project, "math", {"expression": "1e999999 * 10"}) == "The result is too large."
    assert failure(project, "math", {"expression": "1e-999999 + 0"}) == (
        "The result is too small to save as a number."
    )
    errors = refused("math", {"expression": "9" * 4400})
    assert errors["expression"] == ["The expression holds a number too long to read."]
    errors = refused("math", {"expression": "1 +"})
    assert errors["expression"] == ["The expression '1 +' cannot be read."]


# data_parser


def test_split_by_a_separator_with_cjk_text(project):
    config = {"text": "{{ event.tags }}", "operation": "split", "separator": "、"}
    out = run(project, "data_parser", config, {"tags": "東京、大阪 、 京都"})
    assert out == {"items": ["東京", "大阪", "京都"], "count": 3, "first": "東京", "last": "京都"}
    config["separator"] = "\\n"
    assert run(project, "data_parser", config, {"tags": "a\nb\n"})["items"] == ["a", "b"]
    assert run(project, "data_parser", config, {"tags": None})["count"] == 0


def test_extract_named_groups_with_re2(project):
    config = {
        "text": "{{ event.subject }}",
        "operation": "extract",
        "pattern": r"order #(?P<order>\d+) for (?P<name>\S+)",
    }
    out = run(project, "data_parser", config, {"subject": "Re: ORDER #4711 for 花子"})
    assert out == {
        "matched": True,
        "match": "ORDER #4711 for 花子",
        "groups": ["4711", "花子"],
        "fields": {"order": "4711", "name": "花子"},
    }
    config.update(case_sensitive=True)
    assert run(project, "data_parser", config, {"subject": "ORDER #1 for x"})["matched"] is False
    config.update(all_matches=True, case_sensitive=False, pattern=r"#(?P<n>\d+)")
    out = run(project, "data_parser", config, {"subject": "#1, #22 and #333"})
    assert out["count"] == 3
    assert [match["fields"]["n"] for match in out["matches"]] == ["1", "22", "333"]


def test_a_pattern_re2_cannot_take_is_refused_at_save():
    errors = refused("data_parser", {"text": "x", "operation": "extract", "pattern": r"(a)\1"})
    assert "backreference" in errors["pattern"][0]
    errors = refused("data_parser", {"text": "x", "operation": "extract"})
    assert errors["pattern"] == ["Give the pattern."]
    errors = refused("data_parser", {"text": "x", "operation": "path", "path": "a[?"})
    assert "Invalid path" in errors["path"][0]


def test_paddle_passthrough_json_and_query_string(project):
    event = {"passthrough": '{"order_id": "A-1", "items": [{"sku": "寿司"}]}'}
    config = {"text": "{{ event.passthrough }}", "operation": "json", "path": "items[0].sku"}
    assert run(project, "data_parser", config, event) == {"value": "寿司"}
    del config["path"]
    assert run(project, "data_parser", config, event)["value"]["order_id"] == "A-1"
    message = failure(project, "data_parser", config, {"passthrough": "{'order_id': 1}"})
    assert message.startswith("The text is not valid JSON")
    config.update(operation="query_string")
    out = run(project, "data_parser", config, {"passthrough": "?ref=ad&tag=a&tag=b&empty="})
    assert out == {"value": {"ref": "ad", "tag": ["a", "b"], "empty": ""}}


def test_pick_a_value_by_path(project):
    config = {"text": "{{ event }}", "operation": "path", "path": "customer.name"}
    assert run(project, "data_parser", config, {"customer": {"name": "李"}}) == {"value": "李"}
    assert run(project, "data_parser", config, {"customer": None}) == {"value": None}


# line_items

ORDER = {
    "line_items": [
        {"name": "Tea", "quantity": 2, "price": "12.50"},
        {"name": "抹茶", "quantity": "1", "price": "0.10"},
        {"name": "Gift card", "quantity": 1, "price": None},
    ]
}


def test_line_items_to_lines_count_and_money_totals(project):
    config = {
        "items": "{{ event.line_items }}",
        "line": "{{ index }}. {{ item.quantity }} × {{ item.name }} @ {{ item.price }}",
        "totals": ["price", "quantity"],
    }
    out = run(project, "line_items", config, ORDER)
    assert out["lines"] == ["0. 2 × Tea @ 12.50", "1. 1 × 抹茶 @ 0.10", "2. 1 × Gift card @ "]
    assert out["text"] == "\n".join(out["lines"])
    assert out["count"] == 3
    assert out["totals"] == {"price": 12.6, "quantity": 4}
    assert out["totals_text"] == {"price": "12.60", "quantity": "4"}


def test_line_items_of_no_items_and_a_bad_price(project):
    config = {"items": "{{ event.line_items }}", "totals": ["price"]}
    out = run(project, "line_items", config, {"line_items": None})
    assert (out["count"], out["text"], out["totals"]) == (0, "", {"price": 0})
    bad = {"line_items": [{"price": "1"}, {"price": "free"}]}
    assert failure(project, "line_items", config, bad) == (
        "Cannot total price: price of item 2 is 'free', not a number."
    )


def test_a_list_of_comma_separated_values(project):
    config = {"items": "{{ event.colours }}", "mode": "from_text"}
    out = run(project, "line_items", config, {"colours": "red, green,, 青 "})
    assert out == {"items": ["red", "green", "青"], "count": 3}


# In a connector: outputs under save_as, run for real by a simulation


def test_formatters_chain_through_save_as_in_a_simulation(project):
    connector = build_connector(
        project,
        steps=[
            {
                "actions": [
                    ("line_items", {"items": "{{ event.line_items }}", "totals": ["price"],
                                    "save_as": "order"}),
                    ("math", {"expression": "{{ vars.order.totals.price }} * 1.18",
                              "decimals": 2, "save_as": "gross"}),
                    ("format_date", {"date": "{{ event.paid_at }}", "format": "date",
                                     "save_as": "paid"}),
                ]
            }
        ],
    )  # fmt: skip
    simulation = engine.simulate(connector, {**ORDER, "paid_at": 1765278000000})
    assert simulation.error == ""
    assert simulation.context["vars"]["gross"] == {"result": 14.87, "text": "14.87"}
    assert simulation.context["vars"]["paid"]["text"] == "9 December 2025"
