"""Rate limits kept in the database, so they hold across every web and worker process.

A fixed one-minute window per scope. Each request is one atomic upsert
(picky/queries.py `count_rate_limit_hit`): two workers can never both take the last slot of
a window. Call it outside long transactions, as the upsert locks the window's row until the
caller commits.
"""

import math
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from . import alerts
from .models import Membership, RateLimitWindow
from .queries import count_rate_limit_hit

WINDOW_SECONDS = 60
API_ALERT_SOURCE = "api-rate-limit"
API_ALERT_SUBJECT = "Urgent Rate Limit Reached - Picky"
API_ALERT_INTERVAL = timedelta(minutes=30)


def window_start_of(moment):
    return int(moment.timestamp()) // WINDOW_SECONDS * WINDOW_SECONDS


def count_hit(scope, window_start):
    """Count one request of `scope` in the window starting at `window_start`; its hits."""
    hits = count_rate_limit_hit(scope, window_start)
    if hits == 1:
        # First request of a new window: the scope's older windows are of no use any more.
        RateLimitWindow.objects.filter(scope=scope, window_start__lt=window_start).delete()
    return hits


def hit(scope, limit, now=None):
    """Count one request of `scope` in the current window; True when it is within `limit`."""
    return count_hit(scope, window_start_of(now or timezone.now())) <= limit


def http_scope(project):
    return f"http:project:{project.pk}"


def allow_http_request(project, now=None):
    """Count one outbound HTTP request of `project`; False when over its per-minute limit."""
    return hit(http_scope(project), project.http_rate_limit_per_minute, now=now)


def http_requests_this_minute(project, now=None):
    window_start = window_start_of(now or timezone.now())
    row = RateLimitWindow.objects.filter(scope=http_scope(project), window_start=window_start)
    return row.values_list("hits", flat=True).first() or 0


def api_scope(project):
    return f"api:project:{project.pk}"


@dataclass(frozen=True)
class ApiRefusal:
    """An API request over its project's limit: answer 429 with `retry_after` as the
    Retry-After header and `message`, and do nothing else."""

    limit: int
    retry_after: int

    @property
    def message(self):
        return (
            f"Too many requests: this project's API accepts {self.limit} requests per minute. "
            f"Try again in {self.retry_after} seconds."
        )

    @property
    def headers(self):
        return {"Retry-After": str(self.retry_after)}


def count_api_request(project, now=None):
    """Count one API request of `project` (REST or Push API, once its token is checked):
    None when it is within the project's per-minute limit, else an ApiRefusal."""
    now = now or timezone.now()
    window_start = window_start_of(now)
    limit = project.api_rate_limit_per_minute
    hits = count_hit(api_scope(project), window_start)
    if hits <= limit:
        return None
    window_end = window_start + WINDOW_SECONDS
    refusal = ApiRefusal(limit, max(1, math.ceil(window_end - now.timestamp())))
    if hits == limit + 1:
        # Once per window: refusing a flood costs one query a request.
        record_limit_reached(project, refusal, now)
    return refusal


def record_limit_reached(project, refusal, now):
    """Count a minute whose requests over the limit were refused, for the alert mail
    (picky/alerts.py sends it, at most one per API_ALERT_INTERVAL) to the project's owners
    and admins, or to its alert email when none has an address."""
    managers = Membership.objects.filter(
        project=project, role__in=[Membership.Role.OWNER, Membership.Role.ADMIN]
    ).exclude(user__email="")
    alerts.record_failure(
        project,
        API_ALERT_SOURCE,
        label=f"The API limit of {refusal.limit} requests per minute was reached",
        error=(
            f"At {now:%H:%M:%S} UTC; requests over the limit were refused (429 Too Many "
            f"Requests) for the rest of that minute."
        ),
        recipients=sorted(set(managers.values_list("user__email", flat=True))),
        subject=API_ALERT_SUBJECT,
        mail_interval=API_ALERT_INTERVAL,
    )


def api_requests_this_minute(project, now=None):
    window_start = window_start_of(now or timezone.now())
    row = RateLimitWindow.objects.filter(scope=api_scope(project), window_start=window_start)
    return row.values_list("hits", flat=True).first() or 0
