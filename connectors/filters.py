"""Step filters: a list of groups; the step runs when any group holds, and a
group holds when all its conditions hold (DESIGN.md "Filters").

A condition is {"field", "op", "value", "value2", "case_sensitive"}; field and
values are templates. Numbers compare as numbers, dates as dates (read by
picky/dates.py: epoch seconds or milliseconds, ISO 8601, naive ones in the
project's time zone), text case-insensitively unless the condition
says `case_sensitive: true`. A missing field makes a condition false, except
`not_exists` and `is_empty`, which it makes true. `matches_regex` patterns run on RE2
(picky/patterns.py): one RE2 cannot take is refused at save, and makes its condition
false, with the reason in the run's log, if it reaches a run anyway.
"""

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from picky.dates import moment_or_none
from picky.patterns import PatternError, check_pattern
from picky.patterns import search as pattern_search
from picky.templating import render_value, template_errors, to_text

NO_VALUE_OPS = {"is_empty", "is_not_empty", "exists", "not_exists", "is_true", "is_false"}
TWO_VALUE_OPS = {"between"}
# Every operator, with the words a business user reads (the builder's choices and the
# step's summary on the connector page).
OPERATOR_WORDS = {
    "equals": "is",
    "not_equals": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "between": "is between",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "exists": "exists",
    "not_exists": "does not exist",
    "matches_regex": "matches the pattern",
    "in_list": "is one of",
    "not_in_list": "is not one of",
    "before": "is before",
    "after": "is after",
    "is_true": "is true",
    "is_false": "is false",
}
OPERATORS = tuple(OPERATOR_WORDS)
TRUE_WORDS = {"true", "yes", "y", "1", "on"}
FALSE_WORDS = {"false", "no", "n", "0", "off"}
DATE_LIKE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}")
LONE_HOLE = re.compile(r"{{\s*([^{}]*?)\s*}}")


def filter_errors(groups):
    """Validation errors of a filter as [(json_path, message)]; empty when valid."""
    if groups in (None, []):
        return []
    if not isinstance(groups, list):
        return [("filters", "must be a list of groups (lists of conditions)")]
    errors = []
    for g, group in enumerate(groups):
        gpath = f"filters[{g}]"
        if not isinstance(group, list) or not group:
            errors.append((gpath, "must be a non-empty list of conditions"))
            continue
        for c, condition in enumerate(group):
            errors.extend(condition_errors(condition, f"{gpath}[{c}]"))
    return errors


def condition_errors(condition, path):
    if not isinstance(condition, dict):
        return [(path, "must be an object with field, op and value")]
    errors = []
    unknown = set(condition) - {"field", "op", "value", "value2", "case_sensitive"}
    if unknown:
        errors.append((path, f"unknown keys: {', '.join(sorted(unknown))}"))
    op = condition.get("op")
    if op not in OPERATORS:
        errors.append(
            (f"{path}.op", f"{op!r} is not an operator; use one of {', '.join(OPERATORS)}")
        )
    if not condition.get("field"):
        errors.append((f"{path}.field", "is required"))
    needs_value = op not in NO_VALUE_OPS
    if needs_value and condition.get("value") in (None, ""):
        errors.append((f"{path}.value", f"is required for {op}"))
    if op in TWO_VALUE_OPS and condition.get("value2") in (None, ""):
        errors.append((f"{path}.value2", f"is required for {op}"))
    for key in ("field", "value", "value2"):
        for message in template_errors(condition.get(key)):
            errors.append((f"{path}.{key}", message))
    value = condition.get("value")
    if op == "matches_regex" and isinstance(value, str) and "{{" not in value:
        problem = check_pattern(value)
        if problem:
            errors.append((f"{path}.value", problem))
    return errors


def filter_summary(groups):
    """The filter in words: "state is Kerala, or amount is more than 1000"; "" for none."""
    return ", or ".join(
        " and ".join(condition_summary(condition) for condition in group)
        for group in groups or []
        if isinstance(group, list)
    )


def condition_summary(condition):
    if not isinstance(condition, dict):
        return "?"
    op = condition.get("op")
    words = [template_label(condition.get("field")), OPERATOR_WORDS.get(op, str(op))]
    if op not in NO_VALUE_OPS:
        words.append(template_label(condition.get("value")))
    if op in TWO_VALUE_OPS:
        words += ["and", template_label(condition.get("value2"))]
    if condition.get("case_sensitive"):
        words.append("(case-sensitive)")
    return " ".join(words)


def template_label(value):
    """A value as the summary shows it: a lone `{{ event.state }}` reads "state"."""
    text = to_text(value).strip()
    match = LONE_HOLE.fullmatch(text)
    if match:
        return match.group(1).removeprefix("event.")
    return text or "(empty)"


def evaluate(groups, data, tzinfo=UTC):
    """(passed, details): whether the step runs, and each condition's evaluation; a
    condition that could not be evaluated (a pattern RE2 cannot take) is false, and its
    detail has an "error" naming the condition."""
    if not groups:
        return True, []
    details = []
    passed = False
    for g, group in enumerate(groups):
        group_holds = True
        for c, condition in enumerate(group):
            result = evaluate_condition(condition, data, tzinfo)
            if "error" in result:
                result["error"] = f"filters[{g}][{c}].value: {result['error']}"
            details.append(result)
            group_holds = group_holds and result["result"]
        passed = passed or group_holds
    return passed, details


def evaluation_errors(details):
    """The errors of evaluate's details as one text; "" when there were none."""
    return "; ".join(detail["error"] for detail in details if "error" in detail)


def evaluate_condition(condition, data, tzinfo=UTC):
    op = condition.get("op")
    left = render_value(condition.get("field", ""), data)
    value = render_value(condition.get("value"), data)
    value2 = render_value(condition.get("value2"), data)
    case_sensitive = bool(condition.get("case_sensitive"))
    error = ""
    try:
        result = bool(apply(op, left, value, value2, case_sensitive, tzinfo))
    except PatternError as exc:
        result, error = False, str(exc)
    except (TypeError, ValueError, InvalidOperation, OverflowError):
        result = False
    detail = {"field": condition.get("field"), "op": op, "left": left, "value": value,
              "value2": value2, "result": result}  # fmt: skip
    if error:
        detail["error"] = error
    return detail


def is_missing(value):
    return value is None


def is_empty(value):
    return value is None or value == "" or value == [] or value == {}


def as_number(value):
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def as_text(value, case_sensitive):
    text = to_text(value)
    return text if case_sensitive else text.casefold()


def as_list(value):
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    return [value]


def as_bool(value):
    if isinstance(value, bool):
        return value
    text = to_text(value).strip().casefold()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    return None


def comparable(left, right, tzinfo):
    """Both as numbers, else both as dates when they look like dates, else None."""
    a, b = as_number(left), as_number(right)
    if a is not None and b is not None:
        return a, b
    if looks_like_date(left) and looks_like_date(right):
        a, b = moment_or_none(left, tzinfo), moment_or_none(right, tzinfo)
        if a is not None and b is not None:
            return a, b
    return None


def looks_like_date(value):
    return isinstance(value, (datetime, date)) or (
        isinstance(value, str) and bool(DATE_LIKE.match(value.strip()))
    )


def equal(left, right, case_sensitive, tzinfo):
    pair = comparable(left, right, tzinfo)
    if pair is not None:
        return pair[0] == pair[1]
    if isinstance(left, bool) or isinstance(right, bool):
        return as_bool(left) == as_bool(right)
    return as_text(left, case_sensitive) == as_text(right, case_sensitive)


def apply(op, left, value, value2, case_sensitive, tzinfo):
    if op == "exists":
        return not is_missing(left)
    if op == "not_exists":
        return is_missing(left)
    if op == "is_empty":
        return is_empty(left)
    if op == "is_not_empty":
        return not is_empty(left)
    if is_missing(left):
        return False
    if op == "is_true":
        return as_bool(left) is True
    if op == "is_false":
        return as_bool(left) is False
    if op in ("equals", "not_equals"):
        same = equal(left, value, case_sensitive, tzinfo)
        return same if op == "equals" else not same
    if op in ("contains", "not_contains"):
        if isinstance(left, list):
            found = any(equal(item, value, case_sensitive, tzinfo) for item in left)
        else:
            found = as_text(value, case_sensitive) in as_text(left, case_sensitive)
        return found if op == "contains" else not found
    if op == "starts_with":
        return as_text(left, case_sensitive).startswith(as_text(value, case_sensitive))
    if op == "ends_with":
        return as_text(left, case_sensitive).endswith(as_text(value, case_sensitive))
    if op in ("in_list", "not_in_list"):
        found = any(equal(left, item, case_sensitive, tzinfo) for item in as_list(value))
        return found if op == "in_list" else not found
    if op == "matches_regex":
        return pattern_search(to_text(value), to_text(left), case_sensitive)
    if op in ("before", "after"):
        a, b = moment_or_none(left, tzinfo), moment_or_none(value, tzinfo)
        if a is None or b is None:
            return False
        return a < b if op == "before" else a > b
    if op == "between":
        low, high = comparable(left, value, tzinfo), comparable(left, value2, tzinfo)
        if low is None or high is None:
            return False
        return low[1] <= low[0] <= high[1]
    if op in ("gt", "gte", "lt", "lte"):
        pair = comparable(left, value, tzinfo)
        if pair is None:
            return False
        a, b = pair
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]
    raise ValueError(f"unknown operator {op!r}")
