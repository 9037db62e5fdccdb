"""Regular expressions written by users (a filter's `matches_regex`, and any other place
a user's pattern is matched): every one goes through this module.

Patterns run on RE2 (`google-re2`), whose matching time is linear in the text, so no
pattern can hold a worker: `(a+)+$` against 28 `a`s and a `!` took Python's `re` 22 s
and takes RE2 microseconds. RE2 has no backreferences, look-arounds, atomic groups or
possessive quantifiers; `check_pattern` names the one a pattern uses, and forms and the
connector JSON refuse such a pattern at save. The syntax: https://github.com/google/re2/wiki/Syntax

A pattern matches anywhere in the text (anchor it with ^ and $) and ignores case unless
asked not to, as every text comparison of a filter does (DESIGN.md "Filters"); `(?i)` and
`(?-i)` inside the pattern still apply.
"""

import re
from functools import lru_cache

import re2

# The text a pattern is matched against is cut to this many characters: RE2's time is
# linear in it, and no filter needs more.
SUBJECT_MAX = 10_000
# Compiled patterns kept per process (a templated pattern renders differently per event).
CACHE_SIZE = 1024
RE2_SYNTAX = "https://github.com/google/re2/wiki/Syntax"

# What RE2's error says -> what the person who wrote the pattern used.
UNSUPPORTED = {
    "invalid perl operator: (?=": "a look-ahead ((?=...))",
    "invalid perl operator: (?!": "a negative look-ahead ((?!...))",
    "invalid perl operator: (?<=": "a look-behind ((?<=...))",
    "invalid perl operator: (?<!": "a negative look-behind ((?<!...))",
    "invalid perl operator: (?>": "an atomic group ((?>...))",
    "invalid perl operator: (?P": "a named backreference or recursion ((?P=name), (?P>name))",
    "invalid perl operator: (?(": "a conditional group ((?(1)...|...))",
    "invalid perl operator: (?R": "recursion ((?R))",
    "invalid perl operator: (?#": "a comment group ((?#...))",
    "invalid perl operator: (?|": "a branch reset group ((?|...))",
    "invalid escape sequence: \\k": "a named backreference (\\k<name>)",
    "invalid escape sequence: \\g": "a backreference (\\g<...>)",
}
NUMBERED_BACKREFERENCE = re.compile(r"^invalid escape sequence: \\[1-9]")
NUMBERED_RECURSION = re.compile(r"^invalid perl operator: \(\?[0-9+-]")
POSSESSIVE = "bad repetition operator: "
UNKNOWN_FLAG = "invalid perl operator: (?"
REPETITION_SIZE = "invalid repetition size: "
TOO_LARGE = "pattern too large"


class PatternError(ValueError):
    """A pattern RE2 cannot take; the message is for the person who wrote it."""


def _options(case_sensitive):
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False  # a refused pattern is the user's error, not the log's
    return options


OPTIONS = {True: _options(True), False: _options(False)}


def check_pattern(text):
    """Why `text` cannot be used as a pattern, for the person who wrote it; "" when it can."""
    return _compile(text, False)[1]


def search(pattern, subject, case_sensitive=False):
    """Whether `pattern` matches anywhere in `subject` (its first SUBJECT_MAX characters).

    Raises PatternError for a pattern RE2 cannot take."""
    regex = compiled(pattern, case_sensitive)
    subject = subject[:SUBJECT_MAX]
    try:
        return regex.search(subject) is not None
    except UnicodeEncodeError:
        # A lone surrogate cannot be encoded for RE2; it matches as a replacement character.
        return regex.search(subject.encode("utf-8", "replace").decode()) is not None


def compiled(pattern, case_sensitive=False):
    """The compiled pattern (cached); raises PatternError."""
    regex, problem = _compile(pattern, bool(case_sensitive))
    if problem:
        raise PatternError(problem)
    return regex


@lru_cache(maxsize=CACHE_SIZE)
def _compile(pattern, case_sensitive):
    """(compiled pattern, "") or (None, why not): refusals are cached too."""
    try:
        return re2.compile(pattern, OPTIONS[case_sensitive]), ""
    except re2.error as exc:
        return None, explain(exc.args[0].decode(errors="replace") if exc.args else "")
    except UnicodeEncodeError:
        return None, "This pattern contains a lone surrogate character; remove it."


def explain(error):
    """RE2's compile error as a sentence for the person who wrote the pattern."""
    for start, feature in UNSUPPORTED.items():
        if error.startswith(start):
            return unsupported(feature)
    if NUMBERED_BACKREFERENCE.match(error):
        return unsupported(f"a backreference ({error.rpartition(' ')[2]})")
    if NUMBERED_RECURSION.match(error):
        return unsupported(f"recursion ({error.rpartition(' ')[2]}))")
    if error.startswith(POSSESSIVE):
        return unsupported(f"a possessive quantifier ({error.removeprefix(POSSESSIVE)})")
    if error.startswith(UNKNOWN_FLAG):
        group = error.removeprefix("invalid perl operator: ")
        return (
            f"This pattern has a group starting {group}, which Picky does not support: the "
            "groups are (...), (?:...) and (?P<name>...), and the inline flags i, m, s and U, "
            f"as in (?i) or (?i:...) ({RE2_SYNTAX})."
        )
    if error.startswith(REPETITION_SIZE):
        size = error.removeprefix(REPETITION_SIZE)
        return (
            f"The repetition {size} is too large or out of order: a count may be at most "
            "1000, and counts nested inside each other multiply."
        )
    if error.startswith(TOO_LARGE):
        return "This pattern is too large for Picky's regular expression engine; shorten it."
    return f"This is not a valid regular expression: {error} ({RE2_SYNTAX})."


def unsupported(feature):
    return (
        f"This pattern uses {feature}, which Picky does not support: patterns run on RE2, "
        f"which matches in time linear in the text and has no such construct ({RE2_SYNTAX})."
    )
