"""The platform core's SQL that the ORM cannot express."""

from django.db import connection

from .models import RateLimitWindow


def count_rate_limit_hit(scope, window_start):
    """Count one hit of `scope` in the window that starts at `window_start` (a timestamp);
    the window's hits, this one included.

    One atomic upsert, `INSERT ... ON CONFLICT (scope, window_start) DO UPDATE SET hits =
    hits + 1 RETURNING hits`, which SQLite (3.35+) and PostgreSQL both run as a single
    statement: two workers can never both take the last slot of a window. It locks the
    window's row until the caller commits.
    """
    quote = connection.ops.quote_name
    table = quote(RateLimitWindow._meta.db_table)
    scope_col, start_col, hits_col = (quote(name) for name in ("scope", "window_start", "hits"))
    sql = (
        f"INSERT INTO {table} ({scope_col}, {start_col}, {hits_col}) VALUES (%s, %s, 1) "
        f"ON CONFLICT ({scope_col}, {start_col}) "
        f"DO UPDATE SET {hits_col} = {table}.{hits_col} + 1 "
        f"RETURNING {hits_col}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [scope, window_start])
        return cursor.fetchone()[0]
