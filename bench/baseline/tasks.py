"""The bare engine: a Celery task that loads a row and marks it done."""

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
