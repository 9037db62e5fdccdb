"""How a contact's message is compared with words a business user typed: one rule for
smart replies and for a flow's branch rows.

Case and repeated spaces do not count. "contains" and "starts with" look for the phrase
as whole words ("hi" is not in "this"); "exact" takes the whole message. Several
variations are given one per line (or separated by commas); any of them matches.
"""

import re

EXACT, CONTAINS, STARTS_WITH = "exact", "contains", "starts_with"
WORD_MATCHES = [
    (EXACT, "is exactly"),
    (CONTAINS, "contains"),
    (STARTS_WITH, "starts with"),
]
SPACES = re.compile(r"\s+")
VARIATION_SEPARATORS = re.compile(r"[\n,]")


def normalised(text):
    """`text` as compared: case-folded, spaces collapsed, trimmed."""
    return SPACES.sub(" ", str(text or "")).strip().casefold()


def variations(phrases):
    """The variations of a text of phrases (one per line or comma-separated), normalised,
    empty ones dropped."""
    found = []
    for phrase in VARIATION_SEPARATORS.split(str(phrases or "")):
        phrase = normalised(phrase)
        if phrase and phrase not in found:
            found.append(phrase)
    return found


def phrase_matches(text, match, phrase):
    """Whether normalised `text` matches one normalised `phrase` the `match` way."""
    if match == EXACT:
        return text == phrase
    words = re.escape(phrase)
    if match == STARTS_WITH:
        return re.match(rf"{words}(?!\w)", text) is not None
    return re.search(rf"(?<!\w){words}(?!\w)", text) is not None


def matches(text, match, phrases):
    """Whether the message `text` matches any of the variations of `phrases`."""
    text = normalised(text)
    return any(phrase_matches(text, match, phrase) for phrase in variations(phrases))
