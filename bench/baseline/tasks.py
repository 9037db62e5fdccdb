"""The bare engine: a Celery task that loads a row and marks it done, and the same for a
message of rows."""

import os

from celery import Celery
from django.db import connection
from django.utils import timezone

from . import TABLE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.baseline.settings")

app = Celery("bench_baseline")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.task(name="bench.bare_run", acks_late=True, ignore_result=True)
def bare_run(row_id):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT payload FROM {TABLE} WHERE id = %s", [row_id])
        cursor.fetchone()
        cursor.execute(f"UPDATE {TABLE} SET done_at = %s WHERE id = %s", [timezone.now(), row_id])


@app.task(name="bench.bare_run_many", acks_late=True, ignore_result=True)
def bare_run_many(row_ids):
    """`bare_run` for a message of rows, as Picky's worker takes a message of events: one
    SELECT and one UPDATE for them all."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT payload FROM {TABLE} WHERE id = ANY(%s)", [row_ids])
        cursor.fetchall()
        cursor.execute(
            f"UPDATE {TABLE} SET done_at = %s WHERE id = ANY(%s)", [timezone.now(), row_ids]
        )
