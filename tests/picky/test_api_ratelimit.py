"""The API's per-project limit of requests per minute: 429 with Retry-After over it, nothing
done for a refused request, exact under 200 parallel requests, and one alert mail to the
project's owners and admins per 30 minutes however many requests are refused."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail

from connectors.models import Connector
from picky import alerts, ratelimit
from picky.models import ApiToken, Membership, Project
from tests.api_client import api_client
from tests.servers import requires_postgres

# 5 seconds into a minute: the window ends in 55 seconds.
START = datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC)
Role = Membership.Role


def member(project, username, role, email):
    user = get_user_model().objects.create_user(username, email=email, is_staff=True)
    Membership.objects.create(project=project, user=user, role=role)


@pytest.fixture
def limited(project):
    project.api_rate_limit_per_minute = 2
    project.save()
    return project


def test_new_projects_take_the_default_from_the_setting(db, settings):
    assert Project.objects.create(name="A", slug="a").api_rate_limit_per_minute == 90
    settings.PICKY_API_RATE_LIMIT_PER_MINUTE = 7
    assert Project.objects.create(name="B", slug="b").api_rate_limit_per_minute == 7


def test_over_the_limit_is_429_with_retry_after_and_nothing_done(limited):
    api = api_client(limited)
    with time_machine.travel(START, tick=False) as clock:
        assert api.get("/api/v1/project").status_code == 200
        assert api.post("/api/v1/connectors", {"name": "First"}, format="json").status_code == 201
        clock.shift(12)
        refused = api.post("/api/v1/connectors", {"name": "Second"}, format="json")
        assert refused.status_code == 429
        assert refused["Retry-After"] == "43"
        assert refused.json() == {
            "detail": "Too many requests: this project's API accepts 2 requests per minute. "
            "Try again in 43 seconds."
        }
        assert list(Connector.objects.values_list("name", flat=True)) == ["First"]
        clock.shift(43)  # the next minute
        assert api.get("/api/v1/project").status_code == 200


def test_projects_and_tokens_share_their_projects_limit_only(limited, other_project):
    first, second, other = api_client(limited), api_client(limited), api_client(other_project)
    with time_machine.travel(START, tick=False):
        assert [client.get("/api/v1/project").status_code for client in (first, second)] == [
            200,
            200,
        ]
        assert second.get("/api/v1/project").status_code == 429
        assert other.get("/api/v1/project").status_code == 200


def test_requests_without_a_valid_token_are_not_counted(limited):
    api = api_client(limited)
    stranger = api_client(limited)
    stranger.credentials(HTTP_AUTHORIZATION="Bearer pk_not-a-token")
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            assert stranger.get("/api/v1/project").status_code == 401
        assert ratelimit.api_requests_this_minute(limited) == 0
        assert api.get("/api/v1/project").status_code == 200


def test_the_api_shows_its_limit_but_cannot_raise_it(limited):
    api = api_client(limited)
    response = api.patch("/api/v1/project", {"api_rate_limit_per_minute": 1000}, format="json")
    assert response.json()["api_rate_limit_per_minute"] == 2
    limited.refresh_from_db()
    assert limited.api_rate_limit_per_minute == 2


def test_one_alert_mail_per_30_minutes_to_owners_and_admins(limited, other_project):
    member(limited, "owner", Role.OWNER, "owner@acme.example")
    member(limited, "admin", Role.ADMIN, "admin@acme.example")
    member(limited, "agent", Role.AGENT, "agent@acme.example")
    member(other_project, "globex", Role.OWNER, "owner@globex.example")
    with time_machine.travel(START, tick=False) as clock:
        refusals = [ratelimit.count_api_request(limited) for _ in range(102)]
        assert refusals[:2] == [None, None]
        assert all(refusal is not None for refusal in refusals[2:])  # 100 dropped
        assert alerts.send_due_alerts() == 1
        [first] = mail.outbox
        assert first.subject == "Urgent Rate Limit Reached - Picky"
        assert sorted(first.to) == ["admin@acme.example", "owner@acme.example"]
        assert "The API limit of 2 requests per minute was reached once" in first.body
        assert "in project Acme" in first.body
        assert "at most one alert every 30 minutes" in first.body

        clock.move_to(START + timedelta(minutes=29))
        for _ in range(3):
            ratelimit.count_api_request(limited)
        assert alerts.send_due_alerts() == 0

        clock.move_to(START + timedelta(minutes=31))
        for _ in range(3):
            ratelimit.count_api_request(limited)
        assert alerts.send_due_alerts() == 1
        assert len(mail.outbox) == 2
        # The minutes at 29 and 31 each reached the limit.
        assert "was reached 2 times since the last alert" in mail.outbox[1].body


def test_the_alert_goes_to_the_alert_email_when_no_manager_has_an_address(limited):
    limited.alert_email = "ops@acme.example"
    limited.save()
    member(limited, "owner", Role.OWNER, "")
    with time_machine.travel(START, tick=False):
        for _ in range(3):
            ratelimit.count_api_request(limited)
        assert alerts.send_due_alerts() == 1
    assert mail.outbox[0].to == ["ops@acme.example"]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_200_parallel_requests_let_exactly_90_through(live_server, project):
    assert project.api_rate_limit_per_minute == 90
    _, raw = ApiToken.issue(project, "race")
    url = f"{live_server.url}/api/v1/project"

    def call(_):
        response = requests.get(url, headers={"Authorization": f"Bearer {raw}"}, timeout=60)
        return response.status_code, response.headers.get("Retry-After")

    # The clock moves (the server's threads need it to), from the start of a minute.
    clock = time_machine.travel(START.replace(second=0), tick=True)
    with clock, ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(call, range(200)))
    statuses = [status for status, _ in answers]
    assert statuses.count(200) == 90
    assert statuses.count(429) == 110
    assert all(1 <= int(retry) <= 60 for status, retry in answers if status == 429)
    assert ratelimit.api_requests_this_minute(project, now=START) == 200
