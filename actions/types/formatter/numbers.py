"""Numbers as payloads send them (42, 12.5, "12.50", "$1,234.50"), read as Decimal so that
money adds up (0.1 + 0.2 is 0.3), and written back as JSON numbers and as text."""

import re
from decimal import Clamped, Context, Decimal, DivisionByZero, InvalidOperation, Overflow

# Every formatter computation runs in this context: 34 significant digits (IEEE decimal128),
# and exponents bounded so that no result grows without end; every mishap raises.
CONTEXT = Context(
    prec=34,
    Emax=999_999,
    Emin=-999_999,
    traps=[InvalidOperation, DivisionByZero, Overflow, Clamped],
)
CURRENCY_SIGNS = "$€£¥₹"
# "1,234,567.50": commas between groups of three digits are thousands separators.
THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")
# Integers up to this size are written as JSON integers; larger ones as floats.
EXACT_INTEGER_LIMIT = 10**15


class NumberError(ValueError):
    """A value that is not a number; the message names it."""


def read_number(value, what="The value"):
    """`value` as a finite Decimal: a number, or a text holding one, with an optional
    currency sign and thousands commas. NumberError names `what` and the value otherwise."""
    if value is None:
        raise NumberError(f"{what} is empty, not a number.")
    if isinstance(value, bool):
        raise NumberError(f"{what} is {str(value).lower()}, not a number.")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        # Through its shortest text: 0.1 is 0.1, not 0.1000000000000000055511151231257827.
        number = Decimal(repr(value))
    elif isinstance(value, str):
        number = _number_in_text(value, what)
    else:
        raise NumberError(f"{what} is a {_kind(value)}, not a number.")
    if not number.is_finite():
        raise NumberError(f"{what} is {value!r}, not a number.")
    return number


def _number_in_text(value, what):
    text = value.strip().replace(" ", "")
    sign = ""
    if text[:1] in "+-" and text:
        sign, text = text[0], text[1:]
    if text[:1] and text[:1] in CURRENCY_SIGNS:
        text = text[1:]
    if THOUSANDS.match(text):
        text = text.replace(",", "")
    if not text:
        raise NumberError(f"{what} is empty, not a number.")
    try:
        return Decimal(sign + text)
    except InvalidOperation:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise NumberError(f"{what} is {shown!r}, not a number.") from None


def _kind(value):
    return {dict: "JSON object", list: "list", tuple: "list"}.get(type(value), "value")


def as_json_number(number):
    """A Decimal as JSON keeps it: an integer when whole (and not huge), else a float."""
    if number == number.to_integral_value() and abs(number) < EXACT_INTEGER_LIMIT:
        return int(number)
    return float(number)


def as_text(number):
    """A Decimal written out in full (no exponent): 0.3, 25.00, 1000."""
    return format(number, "f")
