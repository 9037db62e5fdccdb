import time

import pytest

from picky.patterns import SUBJECT_MAX, PatternError, check_pattern, compiled, search

CATASTROPHIC = "(a+)+$"


def test_a_catastrophic_pattern_takes_linear_time():
    # Python's re took 22 s on 28 a's; every two more multiplied that by four.
    started = time.perf_counter()
    for length in (28, 40, SUBJECT_MAX - 1):
        assert search(CATASTROPHIC, "a" * length + "!") is False
    assert time.perf_counter() - started < 1.0
    assert search(CATASTROPHIC, "a" * 28) is True


def test_text_is_matched_anywhere_and_ignores_case_unless_asked():
    assert search("kerala", "State: KERALA, India") is True
    assert search("kerala", "State: KERALA, India", case_sensitive=True) is False
    assert search("(?i)kerala", "KERALA", case_sensitive=True) is True
    assert search("^kerala$", "State: Kerala") is False
    assert search("é", "CAFÉ") is True


def test_only_the_first_characters_of_a_long_text_are_searched():
    text = "a" * SUBJECT_MAX + "needle"
    assert search("needle", text) is False
    assert search("needle", text[-SUBJECT_MAX:]) is True


def test_a_lone_surrogate_in_the_text_does_not_break_the_match():
    assert search("b", "a\ud800b") is True


@pytest.mark.parametrize(
    "pattern, named",
    [
        ("(?=a)b", "a look-ahead ((?=...))"),
        ("(?!a)b", "a negative look-ahead ((?!...))"),
        ("(?<=a)b", "a look-behind ((?<=...))"),
        ("(?<!a)b", "a negative look-behind ((?<!...))"),
        (r"(a)\1", r"a backreference (\1)"),
        ("(?P<x>a)(?P=x)", "a named backreference or recursion ((?P=name), (?P>name))"),
        (r"(?<x>a)\k<x>", r"a named backreference (\k<name>)"),
        ("(?>a+)", "an atomic group ((?>...))"),
        ("a++", "a possessive quantifier (++)"),
        ("(?1)", "recursion ((?1))"),
    ],
)
def test_a_construct_re2_lacks_is_named(pattern, named):
    message = check_pattern(pattern)
    assert message.startswith(f"This pattern uses {named}, which Picky does not support")
    with pytest.raises(PatternError, match="which Picky does not support"):
        search(pattern, "ab")


@pytest.mark.parametrize(
    "pattern, message",
    [
        ("([", "This is not a valid regular expression: missing ]: ["),
        ("a{1001}", "The repetition {1001} is too large"),
        ("(a{100}){100}", "The repetition {100} is too large"),
        ("(?x)a b", "This pattern has a group starting (?x, which Picky does not support"),
        ("a\ud800", "This pattern contains a lone surrogate character"),
    ],
)
def test_an_invalid_pattern_says_what_is_wrong(pattern, message):
    assert check_pattern(pattern).startswith(message)


@pytest.mark.parametrize("pattern", [CATASTROPHIC, r"^\d{3}-\d{4}$", "(?i)x", "(?P<n>a)|b", ""])
def test_a_pattern_re2_takes_has_no_message(pattern):
    assert check_pattern(pattern) == ""


def test_compiled_patterns_are_cached_per_case_sensitivity():
    assert compiled("abc") is compiled("abc")
    assert compiled("abc", True) is not compiled("abc")
