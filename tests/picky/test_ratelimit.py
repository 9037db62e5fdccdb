import threading
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection

from picky import ratelimit
from picky.models import Project, RateLimitWindow

START = datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC)


def test_new_projects_take_the_default_from_the_setting(db, settings):
    settings.PICKY_HTTP_RATE_LIMIT_PER_MINUTE = 3
    assert Project.objects.create(name="New", slug="new").http_rate_limit_per_minute == 3


def test_eleventh_request_in_a_minute_is_refused(project):
    assert project.http_rate_limit_per_minute == 10
    with time_machine.travel(START, tick=False) as clock:
        allowed = [ratelimit.allow_http_request(project) for _ in range(10)]
        clock.shift(50)  # still the same minute
        assert allowed == [True] * 10
        assert ratelimit.allow_http_request(project) is False
        assert ratelimit.http_requests_this_minute(project) == 11


def test_next_minute_opens_a_new_window_and_drops_the_old_one(project):
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(11):
            ratelimit.allow_http_request(project)
        clock.shift(60)
        assert ratelimit.allow_http_request(project) is True
        assert RateLimitWindow.objects.filter(scope=ratelimit.http_scope(project)).count() == 1


def test_projects_are_limited_separately(project, other_project):
    project.http_rate_limit_per_minute = 1
    project.save()
    with time_machine.travel(START, tick=False):
        assert ratelimit.allow_http_request(project)
        assert not ratelimit.allow_http_request(project)
        assert ratelimit.allow_http_request(other_project)


def test_limit_edits_apply_at_once(project):
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            ratelimit.allow_http_request(project)
        project.http_rate_limit_per_minute = 5
        assert not ratelimit.allow_http_request(project)
        project.http_rate_limit_per_minute = 20
        assert ratelimit.allow_http_request(project)


@pytest.mark.django_db(transaction=True)
def test_limit_holds_across_parallel_connections():
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:memory"):
        pytest.skip("in-memory SQLite is shared by threads without real concurrency")
    results = []
    lock = threading.Lock()

    def worker():
        # Each thread has its own database connection, like a separate worker.
        for _ in range(10):
            allowed = ratelimit.hit("parallel-test", 25)
            with lock:
                results.append(allowed)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 25
    assert RateLimitWindow.objects.get(scope="parallel-test").hits == 60
