"""picky/dates.py: every form a payload's date comes in, DST gaps and folds, garbage."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from dateutil import tz as date_tz

from picky.dates import DateError, moment_or_none, read_datetime, wall_time

KOLKATA = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")
NOON_KOLKATA = datetime(2025, 3, 20, 12, 0, tzinfo=KOLKATA)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2025-03-20 12:00", NOON_KOLKATA),
        ("2025-03-20T12:00:00", NOON_KOLKATA),
        ("2025-03-20T06:30:00Z", NOON_KOLKATA),
        ("2025-03-20T02:30:00-04:00", NOON_KOLKATA),
        ("2025-03-20T12:00:00+05:30", NOON_KOLKATA),
        ("Thu, 20 Mar 2025 06:30:00 +0000", NOON_KOLKATA),
        ("Thu, 20 Mar 2025 06:30:00 GMT", NOON_KOLKATA),
        ("March 20, 2025 12:00 PM", NOON_KOLKATA),
        ("2025-03-20 12:00 XYZ", NOON_KOLKATA),  # an unknown zone name: the project's
        ("2025-03-20", datetime(2025, 3, 20, tzinfo=KOLKATA)),
        ("20250320", datetime(2025, 3, 20, tzinfo=KOLKATA)),
        (" 2025-03-20 12:00 ", NOON_KOLKATA),
        # Epoch seconds and milliseconds, as numbers and as digits.
        (1742452200, NOON_KOLKATA),
        ("1742452200", NOON_KOLKATA),
        (1742452200000, NOON_KOLKATA),
        ("1742452200000", NOON_KOLKATA),
        (1742452200.5, datetime(2025, 3, 20, 12, 0, 0, 500000, tzinfo=KOLKATA)),
        ("1742452200.5", datetime(2025, 3, 20, 12, 0, 0, 500000, tzinfo=KOLKATA)),
        (Decimal("1742452200"), NOON_KOLKATA),
        (-86400, datetime(1969, 12, 31, tzinfo=UTC)),
        # Python values (a date is its midnight in the project's time zone).
        (datetime(2025, 3, 20, 12, 0), NOON_KOLKATA),
        (datetime(2025, 3, 20, 6, 30, tzinfo=UTC), NOON_KOLKATA),
        (date(2025, 3, 20), datetime(2025, 3, 20, tzinfo=KOLKATA)),
    ],
)
@time_machine.travel(datetime(2025, 3, 1, tzinfo=UTC), tick=False)
def test_forms(value, expected):
    read = read_datetime(value, KOLKATA)
    assert read == expected
    assert read.tzinfo == KOLKATA


def test_the_cut_over_between_seconds_and_milliseconds():
    # 10**11 seconds would be the year 5138: from there on a number is milliseconds.
    assert read_datetime(10**11 - 1, UTC).year == 5138
    assert read_datetime(10**11, UTC) == datetime(1973, 3, 3, 9, 46, 40, tzinfo=UTC)
    assert read_datetime(-(10**11), UTC) == datetime(1966, 10, 31, 14, 13, 20, tzinfo=UTC)


def test_day_first():
    assert read_datetime("03/04/2025 10:00", KOLKATA) == datetime(2025, 3, 4, 10, tzinfo=KOLKATA)
    assert read_datetime("03/04/2025 10:00", KOLKATA, day_first=True) == datetime(
        2025, 4, 3, 10, tzinfo=KOLKATA
    )
    # ISO 8601 is year-month-day whatever day_first says.
    assert read_datetime("2025-03-04", KOLKATA, day_first=True) == datetime(
        2025, 3, 4, tzinfo=KOLKATA
    )


def test_a_time_in_a_dst_gap_moves_forward_by_the_gap():
    # Clocks jump from 02:00 to 03:00 on 9 March 2025 in New York.
    for value in ("2025-03-09 02:30", datetime(2025, 3, 9, 2, 30)):
        read = read_datetime(value, NEW_YORK)
        assert read == datetime(2025, 3, 9, 7, 30, tzinfo=UTC)
        assert (read.hour, read.minute, read.utcoffset().total_seconds()) == (3, 30, -4 * 3600)


def test_a_repeated_time_is_its_first_occurrence():
    # 01:30 happens twice on 2 November 2025 in New York: first in EDT, then in EST.
    # (In a fold an aware datetime never equals one in another zone: compare in UTC.)
    for value in ("2025-11-02 01:30", datetime(2025, 11, 2, 1, 30, fold=1)):
        read = read_datetime(value, NEW_YORK)
        assert read.astimezone(UTC) == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)
        assert (read.fold, read.utcoffset().total_seconds()) == (0, -4 * 3600)
    second = read_datetime("2025-11-02T01:30:00-05:00", NEW_YORK)
    assert second.astimezone(UTC) == datetime(2025, 11, 2, 6, 30, tzinfo=UTC)


def test_wall_time_resolves_gaps_and_folds_like_dateutil():
    gap = datetime(2025, 3, 9, 2, 30)
    assert wall_time(gap, NEW_YORK) == date_tz.resolve_imaginary(gap.replace(tzinfo=NEW_YORK))
    fold = wall_time(datetime(2025, 11, 2, 1, 30, fold=1), NEW_YORK)
    assert fold.astimezone(UTC) == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)


def test_moments_compare_as_moments_in_a_fold():
    # 01:45 EDT is half an hour before 01:15 EST; read in New York, the two share a zone
    # and would compare by their wall clocks.
    first = moment_or_none("2025-11-02T01:45:00-04:00", NEW_YORK)
    second = moment_or_none("2025-11-02T01:15:00-05:00", NEW_YORK)
    assert first < second
    assert first.tzinfo == UTC
    assert moment_or_none("2025-11-02 01:30", NEW_YORK) != moment_or_none(
        "2025-11-02T01:30:00-05:00", NEW_YORK
    )


@pytest.mark.parametrize(
    "value, words",
    [
        (None, "The date is empty"),
        ("", "The date is empty"),
        ("   ", "The date is empty"),
        (True, "True is not a date"),
        ({"a": 1}, "{'a': 1} is not a date"),
        ([2025, 3, 20], "is not a date"),
        ("next tuesday-ish", "Cannot read 'next tuesday-ish' as a date"),
        ("2025-13-45", "Cannot read '2025-13-45' as a date"),
        (10**20, "100000000000000000000 is out of range for epoch seconds or milliseconds"),
        ("1" * 400, "is out of range"),
        (float("nan"), "nan is out of range"),
        (float("inf"), "inf is out of range"),
    ],
)
def test_garbage_says_what_is_wrong(value, words):
    with pytest.raises(DateError, match=words.replace("(", r"\(").replace("[", r"\[")):
        read_datetime(value, KOLKATA)
    assert moment_or_none(value, KOLKATA) is None


def test_a_date_error_is_a_value_error():
    assert issubclass(DateError, ValueError)
