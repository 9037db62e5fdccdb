"""Rate limits kept in the database, so they hold across every web and worker process.

A fixed one-minute window per scope. Each request is one atomic upsert
(picky/queries.py `count_rate_limit_hit`): two workers can never both take the last slot of
a window. Call it outside long transactions, as the upsert locks the window's row until the
caller commits.
"""

from django.utils import timezone

from .models import RateLimitWindow
from .queries import count_rate_limit_hit

WINDOW_SECONDS = 60


def window_start_of(moment):
    return int(moment.timestamp()) // WINDOW_SECONDS * WINDOW_SECONDS


def hit(scope, limit, now=None):
    """Count one request of `scope` in the current window; True when it is within `limit`."""
    window_start = window_start_of(now or timezone.now())
    hits = count_rate_limit_hit(scope, window_start)
    if hits == 1:
        # First request of a new window: the scope's older windows are of no use any more.
        RateLimitWindow.objects.filter(scope=scope, window_start__lt=window_start).delete()
    return hits <= limit


def http_scope(project):
    return f"http:project:{project.pk}"


def allow_http_request(project, now=None):
    """Count one outbound HTTP request of `project`; False when over its per-minute limit."""
    return hit(http_scope(project), project.http_rate_limit_per_minute, now=now)


def http_requests_this_minute(project, now=None):
    window_start = window_start_of(now or timezone.now())
    row = RateLimitWindow.objects.filter(scope=http_scope(project), window_start=window_start)
    return row.values_list("hits", flat=True).first() or 0
