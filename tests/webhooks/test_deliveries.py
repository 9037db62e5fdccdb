"""Deliveries to a project's webhooks: signed, logged, retried on the backoff by the sweep,
given up, disabled after days of failure with one e-mail, and redelivered from the admin.
The receiver is a real local HTTP server (pytest-httpserver)."""

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse
from werkzeug import Response

from picky import alerts
from picky.models import Membership
from webhooks import deliveries
from webhooks.models import Delivery, Event

from .conftest import verified

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PATH = "/hooks/picky"


def new_delivery(project, hooks, data=None):
    payload = {"project_id": project.pk, "event_id": 1, "data": data or []}
    return deliveries.enqueue(
        project, Delivery.Kind.EVENT, hooks.event_url, payload, event=Event.DELIVERY_REPORT
    )


def test_a_delivery_is_signed_logged_and_its_answer_handed_to_its_kinds_hooks(
    project, hooks, httpserver, monkeypatch
):
    received = []

    def receiver(request):
        received.append((verified(request), request.headers["X-Picky-Event"]))
        return Response('{"thanks": "ok"}', status=200, content_type="application/json")

    httpserver.expect_request(PATH, method="POST").respond_with_handler(receiver)
    answers = []
    monkeypatch.setitem(
        deliveries.SUCCESS_HOOKS,
        Delivery.Kind.EVENT,
        [lambda delivery, response: answers.append((delivery.pk, response.json()))],
    )
    delivery = new_delivery(project, hooks, data=[{"msg_id": 7, "number": "9198"}])
    assert deliveries.deliver(delivery.pk).status == Delivery.Status.SUCCEEDED
    payload = {"project_id": project.pk, "event_id": 1, "data": [{"msg_id": 7, "number": "9198"}]}
    assert received == [(payload, "1")]
    assert answers == [(delivery.pk, {"thanks": "ok"})]
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code) == (1, 200)
    [attempt] = delivery.attempt_log.all()
    assert (attempt.status_code, attempt.error) == (200, "")
    assert attempt.response_excerpt == '{"thanks": "ok"}'
    # Done: a repeated task sends nothing.
    assert deliveries.deliver(delivery.pk) is None
    assert len(received) == 1


def test_a_signature_made_with_another_secret_does_not_verify(project, hooks, httpserver):
    checked = []

    def receiver(request):
        try:
            verified(request, secret="not-the-secret")
        except AssertionError:
            checked.append("refused")
        return Response("", status=204)

    httpserver.expect_request(PATH).respond_with_handler(receiver)
    deliveries.deliver(new_delivery(project, hooks).pk)
    assert checked == ["refused"]


def test_a_failing_receiver_is_retried_on_the_backoff_after_a_500_and_a_timeout(
    project, hooks, httpserver, settings, eager
):
    settings.PICKY_WEBHOOK_TIMEOUT_SECONDS = 0.5

    def slow(request):
        time.sleep(1)
        return Response("late", status=200)

    httpserver.expect_ordered_request(PATH).respond_with_data("down", status=500)
    httpserver.expect_ordered_request(PATH).respond_with_handler(slow)
    httpserver.expect_ordered_request(PATH).respond_with_json({"ok": True})
    with time_machine.travel(START, tick=False) as clock:
        delivery = new_delivery(project, hooks)
        deliveries.deliver(delivery.pk)
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.FAILED
        assert delivery.next_attempt_at == START + timedelta(seconds=5)
        assert deliveries.sweep() == 0  # not due yet
        assert deliveries.deliver(delivery.pk) is None  # nor for a stray task
        clock.shift(timedelta(seconds=5))
        assert deliveries.sweep() == 1  # handed to the (eager) worker: times out
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 2)
        assert delivery.next_attempt_at == START + timedelta(seconds=5, minutes=5)
        clock.shift(timedelta(minutes=5))
        assert deliveries.sweep() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.SUCCEEDED, 3)
    log = list(delivery.attempt_log.values_list("status_code", "error"))
    assert log[0] == (500, "The receiver answered 500.")
    assert log[1][0] is None and log[1][1].startswith("No answer within 0.5 seconds")
    assert log[2] == (200, "")


def test_a_worker_that_died_while_sending_counts_as_a_failed_attempt(project, hooks, settings):
    with time_machine.travel(START, tick=False) as clock:
        delivery = new_delivery(project, hooks)
        assert deliveries.claim(delivery.pk) is not None
        assert deliveries.claim(delivery.pk) is None  # one sender at a time
        clock.shift(timedelta(seconds=settings.PICKY_WEBHOOK_LEASE_SECONDS + 1))
        deliveries.sweep()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempt_log.get().error == "The worker stopped while sending it."


def give_up(clock, delivery):
    """Send `delivery` on its backoff until it is given up; returns its attempts."""
    while True:
        deliveries.deliver(delivery.pk)
        delivery.refresh_from_db()
        if delivery.status == Delivery.Status.GIVEN_UP:
            return delivery.attempts
        clock.move_to(delivery.next_attempt_at)


@pytest.fixture
def owner(project):
    user = get_user_model().objects.create_user("owner", email="owner@acme.test", is_staff=True)
    Membership.objects.create(project=project, user=user, role=Membership.Role.OWNER)
    return user


def test_a_receiver_failing_for_days_is_disabled_with_one_mail_to_the_owners(
    project, hooks, httpserver, settings, mailoutbox, owner
):
    httpserver.expect_request(PATH).respond_with_data("maintenance", status=503)
    with time_machine.travel(START, tick=False) as clock:
        assert give_up(clock, new_delivery(project, hooks)) == deliveries.MAX_ATTEMPTS
        hooks.refresh_from_db()
        assert hooks.enabled and hooks.failing_since is not None
        assert alerts.send_due_alerts() == 0
        clock.shift(timedelta(hours=settings.PICKY_WEBHOOK_DISABLE_AFTER_HOURS))
        waiting = new_delivery(project, hooks)
        give_up(clock, new_delivery(project, hooks))
        hooks.refresh_from_db()
        assert not hooks.enabled and hooks.disabled_at is not None
        waiting.refresh_from_db()
        assert waiting.status == Delivery.Status.GIVEN_UP  # not retried once disabled
        assert new_delivery(project, hooks) is None
        assert alerts.send_due_alerts() == 1
        clock.shift(timedelta(days=1))
        assert alerts.send_due_alerts() == 0
    [mail] = mailoutbox
    assert mail.to == ["owner@acme.test"]
    assert "Picky has disabled them" in mail.body and "503" in mail.body


def test_redeliver_from_the_admin_sends_again_and_shows_every_attempt(
    client,
    member,
    project,
    other_project,
    hooks,
    httpserver,
    eager,
    django_capture_on_commit_callbacks,
):
    answer_with = [400]
    httpserver.expect_request(PATH).respond_with_handler(
        lambda request: Response("oops", status=answer_with[0])
    )
    with time_machine.travel(START, tick=False) as clock:
        delivery = new_delivery(project, hooks)
        # A 4xx is retried too: the receiver may be fixed in the meantime.
        assert give_up(clock, delivery) == deliveries.MAX_ATTEMPTS
    answer_with[0] = 200
    client.force_login(member)
    page = client.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk]))
    assert page.status_code == 200
    assert b'value="Redeliver"' in page.content and b"The receiver answered 400." in page.content
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(reverse("admin:webhooks_delivery_redeliver", args=[delivery.pk]))
    assert answer.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == (Delivery.Status.SUCCEEDED, 200)
    page = client.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk]))
    assert page.content.count(b"The receiver answered 400.") == delivery.attempt_log.count() - 1
    elsewhere = Delivery.objects.create(
        project=other_project, kind="event", event=1, url=hooks.event_url, body="{}"
    )
    refused = client.post(reverse("admin:webhooks_delivery_redeliver", args=[elsewhere.pk]))
    assert refused.status_code == 404
