"""Reading what a CaptureQueriesContext captured."""

import re

TRANSACTION_CONTROL = re.compile(r"^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.I)


def statements(captured):
    """The captured SQL, transaction control (BEGIN, COMMIT, savepoints) left out."""
    return [query["sql"] for query in captured if not TRANSACTION_CONTROL.match(query["sql"])]
