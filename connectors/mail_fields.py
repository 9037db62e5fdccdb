"""A connector's parsing template for inbound mail (`Connector.mail_fields`): ordered rules,
each a field name, where to look (subject, text body, HTML body as text, from) and an RE2
pattern (picky/patterns.py) whose group `value`, else its first group, else the whole
match, is the field's value; "all" gives the list of every match. inbound_mail applies
them as a mail becomes an event: `event.fields.<name>`. A rule that matches nothing gives
"" (or []): a mail is never refused for its template.
"""

import html
import re
from itertools import islice

from django.utils.html import strip_tags

from picky import patterns

RULE_KEYS = ("name", "where", "pattern", "all")
# Where a rule looks, by the name the rows take -> what it reads of the mail payload.
WHERE = {
    "subject": "the subject",
    "text": "the text body",
    "html": "the HTML body as text",
    "from": "the sender's address",
}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The text a rule reads is cut to this many characters (RE2 is linear in it).
TEXT_MAX = 100_000
# An "all" rule keeps at most this many matches: a field is a value to use, not a copy of
# the mail.
MATCHES_MAX = 1000
# Block ends that read as line breaks once an HTML body's tags are stripped.
HTML_BREAKS = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h[1-6])\b[^>]*>", re.IGNORECASE)
# The values "all" takes as typed in a row's box.
YES = {"yes", "true", "1", "all"}
NO = {"", "no", "false", "0"}


def mail_fields_errors(rules):
    """Problems of a parsing template, each (row index or None, message naming the box)."""
    if rules in (None, []):
        return []
    if not isinstance(rules, list):
        return [(None, "The parsing template must be a list of rules.")]
    errors = []
    seen = set()
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            errors.append((index, "A rule must be an object of field name, look in and pattern."))
            continue
        unknown = [str(key) for key in rule if key not in RULE_KEYS]
        if unknown:
            errors.append(
                (index, f"Unknown setting {', '.join(unknown)}; known: {', '.join(RULE_KEYS)}.")
            )
        name = rule.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            errors.append(
                (index, "Field name: letters, digits and _ (not first a digit), as in order_id.")
            )
        elif name in seen:
            errors.append((index, f"Field name: {name} is already a field of this template."))
        else:
            seen.add(name)
        if rule.get("where") not in WHERE:
            errors.append((index, f"Look in: one of {', '.join(WHERE)}."))
        pattern = rule.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            errors.append((index, "Pattern: a regular expression is required."))
        elif problem := patterns.check_pattern(pattern):
            errors.append((index, f"Pattern: {problem}"))
        if not isinstance(rule.get("all", False), bool):
            errors.append((index, "All matches: true or false."))
    return errors


def cleaned_rule(rule):
    """A rule as the rows typed it, its "all" box read as a yes or no (left as typed when
    it is neither, for mail_fields_errors to name)."""
    if not isinstance(rule, dict):
        return rule
    every = rule.get("all", False)
    if isinstance(every, str) and every.strip().lower() in YES | NO:
        every = every.strip().lower() in YES
    cleaned = {key: value for key, value in rule.items() if key != "all"}
    return {**cleaned, "all": every} if every is not False else cleaned


def html_text(markup):
    """An HTML body as the text a reader sees: tags dropped, entities read."""
    return html.unescape(strip_tags(HTML_BREAKS.sub("\n", markup)))


def source_text(payload, where):
    value = payload.get(where) or ""
    text = html_text(value) if where == "html" else str(value)
    # A lone surrogate cannot be encoded for RE2; it reads as a replacement character.
    return text[:TEXT_MAX].encode("utf-8", "replace").decode()


def match_value(match):
    regex = match.re
    if "value" in regex.groupindex:
        return match.group("value") or ""
    return (match.group(1) if regex.groups else match.group(0)) or ""


def extract_fields(rules, payload):
    """The fields the rules take out of a mail payload: name -> text ("" when the rule
    matches nothing), or the list of every match for an "all" rule."""
    fields = {}
    for rule in rules or ():
        regex = patterns.compiled(rule["pattern"])
        text = source_text(payload, rule["where"])
        if rule.get("all"):
            matches = islice(regex.finditer(text), MATCHES_MAX)
            fields[rule["name"]] = [match_value(match) for match in matches]
        else:
            match = regex.search(text)
            fields[rule["name"]] = match_value(match) if match else ""
    return fields
