import pytest

from picky.wording import LISTED_AT_MOST, counted, listed


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, "1 day"),
        (0, "0 days"),
        (2, "2 days"),
        (1.0, "1 day"),
        (1.5, "1.5 days"),
        ("1", "1 day"),
        (" 1 ", "1 day"),
        ("{{ event.days }}", "{{ event.days }} days"),
    ],
)
def test_counted(count, expected):
    assert counted(count, "day") == expected


def test_irregular_plural():
    assert counted(1, "delivery", "deliveries") == "1 delivery"
    assert counted(3, "delivery", "deliveries") == "3 deliveries"


def test_listed_names_what_there_is_and_says_when_there_is_more():
    where = "add them under Teambox → Departments"
    assert listed([], "departments", where) == f"It has no departments yet: {where}."
    assert listed(["Sales", "Support"], "departments", where) == (
        "Its departments: Sales, Support."
    )
    many = [f"d{n}" for n in range(LISTED_AT_MOST + 5)]
    sentence = listed(many, "departments", where)
    assert sentence.endswith(f"d{LISTED_AT_MOST - 1} and more.")
    assert f"d{LISTED_AT_MOST}," not in sentence
