"""Reading a date from a payload: the one reader behind delays, filters, reminders and
date formatting, so that a value means the same moment wherever a user puts it.

`read_datetime(value, tzinfo, day_first=False)` reads:

- epoch seconds or milliseconds, as a number or a string of digits (signed, with an
  optional fraction): from 10**11 on (in absolute value) it is milliseconds. 10**11
  seconds is the year 5138, 10**11 milliseconds is 3 March 1973, so no date a payload
  means is read in the wrong unit. Eight digits alone (`20250320`) are a date, not an
  epoch.
- ISO 8601: `2025-03-20`, `2025-03-20T12:00`, `2025-03-20T06:30:00Z`, with or without
  an offset.
- any other written form python-dateutil reads (`Thu, 20 Mar 2025 06:30:00 +0000`,
  `March 20, 2025 12:00 PM`, `03/04/2025`: 4 March, or 3 April with `day_first`).
- a datetime or date object (a date is its midnight).

A value with an offset (or `Z`, `UTC`, `GMT`) keeps its moment. A value without one is a
wall time in `tzinfo`, the project's time zone; a zone name dateutil does not know is
ignored. Wall times a DST change makes odd are resolved one way, everywhere:

- a time in a gap (02:30 when clocks jump from 02:00 to 03:00) moves forward by the gap
  (03:30), as dateutil's `tz.resolve_imaginary` does;
- a time that occurs twice (01:30 when clocks fall back) is its first occurrence (fold=0,
  before the change).

The result is an aware datetime in `tzinfo`. A value that is not a date raises DateError,
whose message says what was wrong; `moment_or_none` gives None instead.
"""

import re
import warnings
from datetime import UTC, date, datetime
from decimal import Decimal

from dateutil import parser as date_parser
from dateutil import tz as date_tz

EPOCH_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
BASIC_DATE = re.compile(r"^\d{8}$")
EPOCH_MILLISECONDS_FROM = 10**11


class DateError(ValueError):
    """A value that cannot be read as a date; the message says why."""


def read_datetime(value, tzinfo, day_first=False):
    """`value` as an aware datetime in `tzinfo`, or DateError saying why it is not a date."""
    if isinstance(value, datetime):
        return _in_zone(value, tzinfo)
    if isinstance(value, date):
        return wall_time(datetime(value.year, value.month, value.day), tzinfo)
    if value is None:
        raise DateError("The date is empty.")
    if isinstance(value, bool):
        raise DateError(f"{value!r} is not a date.")
    if isinstance(value, (int, float, Decimal)):
        return _from_epoch(value).astimezone(tzinfo)
    if not isinstance(value, str):
        raise DateError(f"{value!r} is not a date.")
    text = value.strip()
    if not text:
        raise DateError("The date is empty.")
    if EPOCH_NUMBER.match(text) and not BASIC_DATE.match(text):
        return _from_epoch(text).astimezone(tzinfo)
    try:
        parsed = date_parser.isoparse(text)
    except (ValueError, OverflowError):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", date_parser.UnknownTimezoneWarning)
                parsed = date_parser.parse(text, dayfirst=day_first, tzinfos=_known_offset)
        except (ValueError, OverflowError) as exc:
            raise DateError(f"Cannot read {text!r} as a date ({exc}).") from None
    return _in_zone(parsed, tzinfo)


def moment_or_none(value, tzinfo, day_first=False):
    """`read_datetime` in UTC, to compare with another, or None where `value` is not a date.

    In UTC because aware datetimes that share a zone compare by their wall clocks: 01:45
    EDT and 01:15 EST, half an hour later, would compare the other way round.
    """
    try:
        return read_datetime(value, tzinfo, day_first).astimezone(UTC)
    except DateError:
        return None


def wall_time(naive, tzinfo):
    """The naive wall time `naive` in `tzinfo` as an aware datetime, DST resolved as the
    module says: a time in a gap moves forward by the gap, a repeated time is the first.

    Through UTC: with fold=0 a time in a gap takes the offset before the change, so
    converting back lands the gap's length later, and a repeated time the earlier moment.
    """
    return naive.replace(tzinfo=tzinfo, fold=0).astimezone(UTC).astimezone(tzinfo)


def _in_zone(moment, tzinfo):
    if moment.tzinfo is None:
        return wall_time(moment, tzinfo)
    return moment.astimezone(tzinfo)


def _known_offset(name, offset):
    # dateutil asks this for every zone it reads: keep explicit offsets
    # (including "Z", "UTC", "GMT"), and leave unknown names naive so they
    # are read in the project's time zone.
    if offset is not None:
        return UTC if offset == 0 else date_tz.tzoffset(name, offset)
    return None


def _from_epoch(number):
    try:
        seconds = float(number)
        if abs(seconds) >= EPOCH_MILLISECONDS_FROM:
            seconds /= 1000
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise DateError(f"{number} is out of range for epoch seconds or milliseconds.") from None
