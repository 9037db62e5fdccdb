import pytest

from picky.wording import counted


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
