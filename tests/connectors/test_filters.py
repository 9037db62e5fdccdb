import time
import zoneinfo

import pytest

from connectors.filters import OPERATORS, evaluate, evaluation_errors, filter_errors

DATA = {
    "event": {
        "state": "Kerala",
        "amount": "1200.50",
        "qty": 3,
        "email": "Asha@Example.com",
        "tags": ["vip", "Repeat"],
        "empty": "",
        "none": None,
        "paid": "yes",
        "unpaid": False,
        "date": "2026-03-10",
        "when": "2026-03-10 09:30",
        "Product Interested": "Solar Lamp",
    }
}


def holds(field, op, value=None, value2=None, **extra):
    condition = {"field": field, "op": op, "value": value, "value2": value2, **extra}
    passed, details = evaluate([[condition]], DATA, zoneinfo.ZoneInfo("Asia/Kolkata"))
    assert details[0]["result"] is passed
    return passed


@pytest.mark.parametrize(
    "field, op, value, value2, expected",
    [
        ("{{ event.state }}", "equals", "kerala", None, True),
        ("{{ event.state }}", "not_equals", "Goa", None, True),
        ("{{ event.amount }}", "equals", "1200.5", None, True),
        ("{{ event.email }}", "contains", "example", None, True),
        ("{{ event.email }}", "not_contains", "gmail", None, True),
        ("{{ event.tags }}", "contains", "repeat", None, True),
        ("{{ event.email }}", "starts_with", "asha@", None, True),
        ("{{ event.email }}", "ends_with", ".COM", None, True),
        ("{{ event.amount }}", "gt", "999", None, True),
        ("{{ event.qty }}", "gt", "10", None, False),
        ("{{ event.qty }}", "gte", "3", None, True),
        ("{{ event.qty }}", "lt", "10", None, True),
        ("{{ event.qty }}", "lte", "2", None, False),
        ("{{ event.qty }}", "between", "1", "3", True),
        ("{{ event.amount }}", "between", "1", "100", False),
        ("{{ event.empty }}", "is_empty", None, None, True),
        ("{{ event.state }}", "is_not_empty", None, None, True),
        ("{{ event.state }}", "exists", None, None, True),
        ("{{ event.nothing }}", "not_exists", None, None, True),
        ("{{ event.email }}", "matches_regex", r"^[a-z]+@example\.com$", None, True),
        ("{{ event.state }}", "in_list", "Goa, kerala, Delhi", None, True),
        ("{{ event.state }}", "not_in_list", ["Goa", "Delhi"], None, True),
        ("{{ event.date }}", "before", "2026-03-11", None, True),
        ("{{ event.when }}", "after", "2026-03-10T03:00:00Z", None, True),
        ("{{ event.when }}", "after", "2026-03-10T05:00:00Z", None, False),
        ("{{ event.paid }}", "is_true", None, None, True),
        ("{{ event.unpaid }}", "is_false", None, None, True),
        ('{{ event."Product Interested" }}', "equals", "solar lamp", None, True),
        ("{{ event.date }}", "gt", "2026-01-31", None, True),
    ],
)
def test_operators(field, op, value, value2, expected):
    assert holds(field, op, value, value2) is expected


def test_case_sensitive_when_asked():
    assert holds("{{ event.state }}", "equals", "kerala", case_sensitive=True) is False
    assert holds("{{ event.state }}", "equals", "Kerala", case_sensitive=True) is True


def test_numbers_compare_as_numbers_not_text():
    assert holds("{{ event.qty }}", "lt", "10") is True  # "3" < "10" as text would be False


@pytest.mark.parametrize(
    "op, expected",
    [(op, op in ("not_exists", "is_empty")) for op in OPERATORS],
)
def test_a_missing_field_is_false_except_not_exists_and_is_empty(op, expected):
    assert holds("{{ event.missing }}", op, "x", "y") is expected


def test_a_bad_value_is_false_not_an_error():
    assert holds("{{ event.state }}", "matches_regex", "([") is False
    assert holds("{{ event.state }}", "gt", "abc") is False
    assert holds("{{ event.state }}", "before", "not a date") is False


def test_a_catastrophic_pattern_is_evaluated_in_linear_time():
    data = {"event": {"text": "a" * 28 + "!"}}
    condition = {"field": "{{ event.text }}", "op": "matches_regex", "value": "(a+)+$"}
    started = time.perf_counter()
    passed, details = evaluate([[condition]], data)
    assert time.perf_counter() - started < 1.0  # Python's re took 22 s
    assert passed is False and "error" not in details[0]
    assert evaluate([[condition]], {"event": {"text": "a" * 28}})[0] is True


def test_a_pattern_re2_cannot_take_is_false_and_says_why():
    # A templated pattern is checked only once rendered; a stored one may predate RE2.
    conditions = [
        {"field": "{{ event.state }}", "op": "equals", "value": "Kerala"},
        {"field": "{{ event.state }}", "op": "matches_regex", "value": "{{ event.pattern }}"},
    ]
    passed, details = evaluate([conditions], {"event": {"state": "Kerala", "pattern": "K(?=e)"}})
    assert passed is False
    assert details[1]["result"] is False
    assert details[1]["error"].startswith(
        "filters[0][1].value: This pattern uses a look-ahead ((?=...)), which Picky does not "
        "support"
    )
    assert evaluation_errors(details) == details[1]["error"]
    assert "error" not in details[0]


def test_any_group_all_conditions():
    kerala_vip = [
        {"field": "{{ event.state }}", "op": "equals", "value": "Kerala"},
        {"field": "{{ event.tags }}", "op": "contains", "value": "vip"},
    ]
    goa = [{"field": "{{ event.state }}", "op": "equals", "value": "Goa"}]
    assert evaluate([goa, kerala_vip], DATA)[0] is True
    kerala_new = [kerala_vip[0], {"field": "{{ event.tags }}", "op": "contains", "value": "new"}]
    assert evaluate([goa, kerala_new], DATA)[0] is False
    assert evaluate([], DATA) == (True, [])


def test_validation_lists_errors_with_paths():
    errors = filter_errors(
        [
            [{"field": "{{ event.a }}", "op": "equalz", "value": "x"}],
            [{"field": "", "op": "between", "value": "1"}, {"op": "matches_regex",
              "field": "{{ event.a }}", "value": "(["}],
            "nope",
        ]
    )  # fmt: skip
    paths = [path for path, _ in errors]
    assert paths == [
        "filters[0][0].op",
        "filters[1][0].field",
        "filters[1][0].value2",
        "filters[1][1].value",
        "filters[2]",
    ]
    assert "equalz" in errors[0][1]
    assert filter_errors([[{"field": "{{ event.a }}", "op": "is_empty"}]]) == []
    backreference = [[{"field": "{{ event.a }}", "op": "matches_regex", "value": r"(a)\1"}]]
    [(path, message)] = filter_errors(backreference)
    assert path == "filters[0][0].value"
    assert message.startswith(r"This pattern uses a backreference (\1), which Picky does not")
    assert filter_errors([[{"field": "{{ event.[ }}", "op": "is_empty"}]])[0][0] == (
        "filters[0][0].field"
    )


@pytest.mark.parametrize(
    "when, op, value, expected",
    [
        # Epoch milliseconds and seconds, numbers or digits, against ISO 8601.
        (1773115200000, "after", "2026-03-10T03:00:00Z", True),
        ("1773115200000", "before", "2026-03-10T05:00:00Z", True),
        (1773115200, "after", "2026-03-10 09:30", False),
        ("2026-03-10 09:30", "before", 1773115200001, True),
    ],
)
def test_epoch_dates_in_before_and_after(when, op, value, expected):
    # 1773115200 s is 2026-03-10 04:00 UTC, 09:30 in Kolkata.
    data = {"event": {"when": when}}
    condition = {"field": "{{ event.when }}", "op": op, "value": value}
    assert evaluate([[condition]], data, zoneinfo.ZoneInfo("Asia/Kolkata"))[0] is expected


def test_local_times_around_dst_changes_compare_as_moments():
    new_york = zoneinfo.ZoneInfo("America/New_York")

    def after(left, right):
        condition = {"field": "{{ event.when }}", "op": "after", "value": right}
        return evaluate([[condition]], {"event": {"when": left}}, new_york)[0]

    # 02:30 does not exist on 9 March 2025: it is 03:30 EDT, as a delay reads it.
    assert after("2025-03-09 02:30", "2025-03-09 03:15") is True
    # 01:45 EDT comes half an hour before 01:15 EST on 2 November 2025.
    assert after("2025-11-02T01:45:00-04:00", "2025-11-02T01:15:00-05:00") is False
    assert after("2025-11-02T01:15:00-05:00", "2025-11-02T01:45:00-04:00") is True
