"""A real worker keeps its database connections between tasks (bench/engine.py found
one new PostgreSQL connection per run, which cost more than the run itself)."""

import pytest
from django.db import connection

from connectors import services
from connectors.models import Run
from tests.builders import build_connector
from tests.workers import purge_broker, requires_integration, running_worker, wait_for

pytestmark = [pytest.mark.integration, requires_integration]

EVENTS = 60


def sessions_opened():
    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_the_worker_reuses_its_database_connections(project):
    purge_broker()
    connector = build_connector(
        project, steps=[{"actions": [("set_variable", {"name": "a", "value": "1"})]}]
    )
    with running_worker(concurrency=2):
        for n in range(5):
            services.record_event(connector, {"n": n}, method="POST", headers={}, source_ip=None)
        wait_for(lambda: Run.objects.filter(status="succeeded").count() == 5, message="warm-up")
        before = sessions_opened()
        for n in range(EVENTS):
            services.record_event(connector, {"n": n}, method="POST", headers={}, source_ip=None)
        wait_for(
            lambda: Run.objects.filter(status="succeeded").count() == 5 + EVENTS,
            message="the runs",
        )
        opened = sessions_opened() - before
    # This test's own queries may open a session or two; one per run would be 60.
    assert opened <= 4, f"{opened} database sessions opened for {EVENTS} runs"
