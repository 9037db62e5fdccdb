"""The bare baselines the benchmarks compare Picky with.

`settings`/`urls`/`wsgi`: a minimal Django site whose one view parses the JSON
body, INSERTs one jsonb row into PostgreSQL and answers 200 (the ingest
baseline). `tasks`: a Celery app whose one task loads such a row and marks it
done (the engine baseline). Both use the same database and broker settings as
Picky (DATABASE_URL, CELERY_BROKER_URL, CONN_MAX_AGE).
"""

TABLE = "bench_bare_event"
# The bare task's queue: its worker and Picky's never take each other's messages.
QUEUE = "bench_bare"

CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id bigserial PRIMARY KEY,
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL,
    done_at timestamptz
)
"""
