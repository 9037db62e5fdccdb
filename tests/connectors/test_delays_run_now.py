"""Run now: a parked run goes on at once, before its due time, as the sweep would resume
it; from the Schedules page through a confirmation page, one delay or several."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from connectors import delays, engine, services
from connectors.models import Run, ScheduledStep
from tests.builders import build_connector

KOLKATA = ZoneInfo("Asia/Kolkata")
URL = "/admin/connectors/scheduledstep/"
NOW = datetime(2025, 3, 1, 10, tzinfo=KOLKATA)


def follow_up(project, name="Follow-ups"):
    return build_connector(
        project,
        name=name,
        steps=[
            {
                "name": "Next morning",
                "delay": {
                    "mode": "fixed",
                    "amount": 1,
                    "unit": "days",
                    "identifier": "{{ event.order }}",
                },
                "actions": [
                    (
                        "send_email",
                        {"to": ["{{ event.email }}"], "subject": "Follow-up", "body": "-"},
                    )
                ],
            }
        ],
    )


def park(connector, order):
    event = services.record_event(
        connector,
        {"order": order, "email": f"{order.lower()}@example.com"},
        method="POST",
        headers={},
        source_ip=None,
    )
    engine.process_event(event.pk)
    return Run.objects.get(event=event)


def work():
    """A worker takes the runs handed to it."""
    for run_id in Run.objects.filter(status=Run.Status.QUEUED).values_list("pk", flat=True):
        engine.continue_run(run_id)


@pytest.fixture
def parked(project):
    connector = follow_up(project)
    with time_machine.travel(NOW, tick=False):
        return {order: park(connector, order) for order in ("A-1", "A-2", "A-3")}


def status_of(run):
    return ScheduledStep.objects.get(run=run).status


@pytest.mark.django_db
class TestRunSchedulesNow:
    def test_the_run_goes_on_at_once_and_only_it(self, parked):
        with time_machine.travel(NOW, tick=False):
            chosen = ScheduledStep.objects.filter(run=parked["A-1"])
            assert delays.run_schedules_now(chosen) == 1
            assert Run.objects.get(pk=parked["A-1"].pk).status == Run.Status.QUEUED
            work()
        assert [message.to for message in mail.outbox] == [["a-1@example.com"]]
        assert Run.objects.get(pk=parked["A-1"].pk).status == Run.Status.SUCCEEDED
        assert status_of(parked["A-1"]) == "fired"
        assert status_of(parked["A-2"]) == status_of(parked["A-3"]) == "pending"
        # Fired once: asking again does nothing, and the sweep does not fire it again.
        assert delays.run_schedules_now(chosen) == 0
        with time_machine.travel(datetime(2025, 3, 3, tzinfo=KOLKATA), tick=False):
            assert delays.sweep_due_delays() == 2
            work()
        assert len(mail.outbox) == 3

    def test_a_row_whose_run_ended_is_failed_and_one_being_parked_waits(self, parked):
        ended, parking = parked["A-1"], parked["A-2"]
        Run.objects.filter(pk=ended.pk).update(status=Run.Status.STOPPED)
        Run.objects.filter(pk=parking.pk).update(status=Run.Status.RUNNING)
        assert delays.run_schedules_now(ScheduledStep.objects.all()) == 1
        assert status_of(ended) == "failed"
        assert status_of(parking) == "pending"
        assert status_of(parked["A-3"]) == "fired"


@pytest.fixture
def logged_in(client, member):
    client.force_login(member)
    return client


@pytest.mark.django_db
class TestRunNowInTheAdmin:
    def test_the_list_shows_due_time_identifier_and_the_buttons(self, logged_in, parked):
        row = ScheduledStep.objects.get(run=parked["A-2"])
        page = logged_in.get(URL).content.decode()
        assert "A-2" in page and "2025-03-02 10:00 IST" in page
        assert f'href="{URL}{row.pk}/run-now/"' in page
        assert f'name="cancel_schedule" value="{row.pk}"' in page

    def test_one_delay_through_its_confirmation_page(self, logged_in, parked):
        row = ScheduledStep.objects.get(run=parked["A-2"])
        confirm = logged_in.get(f"{URL}{row.pk}/run-now/")
        html = confirm.content.decode()
        assert confirm.status_code == 200
        assert "This run stops waiting and goes on now" in html
        assert "A-2" in html and "Next morning" in html and "A-1" not in html
        assert "2025-03-02 10:00 IST" in html
        assert status_of(parked["A-2"]) == "pending"  # nothing happens before confirming
        response = logged_in.post(f"{URL}{row.pk}/run-now/", follow=True)
        assert "1 run no longer waiting: it goes on now." in response.content.decode()
        assert status_of(parked["A-2"]) == "fired"
        work()
        assert [message.to for message in mail.outbox] == [["a-2@example.com"]]
        again = logged_in.post(f"{URL}{row.pk}/run-now/", follow=True)
        assert "that delay is not pending any more" in again.content.decode()

    def test_several_with_the_action(self, logged_in, parked):
        chosen = [ScheduledStep.objects.get(run=parked[order]).pk for order in ("A-1", "A-3")]
        form = {"action": "run_selected_now", "_selected_action": chosen, "index": 0}
        confirm = logged_in.post(URL, form)
        assert "These 2 runs stop waiting and go on now" in confirm.content.decode()
        assert set(ScheduledStep.objects.values_list("status", flat=True)) == {"pending"}
        response = logged_in.post(URL, {**form, "confirmed": "yes"}, follow=True)
        assert "2 runs no longer waiting: they go on now." in response.content.decode()
        assert status_of(parked["A-1"]) == status_of(parked["A-3"]) == "fired"
        assert status_of(parked["A-2"]) == "pending"

    def test_another_projects_delay_is_out_of_reach(self, logged_in, other_project):
        with time_machine.travel(NOW, tick=False):
            theirs = park(follow_up(other_project, "Theirs"), "B-1")
        row = ScheduledStep.objects.get(run=theirs)
        assert logged_in.get(f"{URL}{row.pk}/run-now/").content.decode().count("B-1") == 0
        logged_in.post(f"{URL}{row.pk}/run-now/")
        assert status_of(theirs) == "pending"

    def test_agents_may_not(self, client, project, parked):
        from tests.picky.test_admin_roles import staff

        client.force_login(staff("agent", project, "agent"))
        row = ScheduledStep.objects.get(run=parked["A-1"])
        assert client.get(f"{URL}{row.pk}/run-now/").status_code == 403
        assert client.post(f"{URL}{row.pk}/run-now/").status_code == 403
        assert status_of(parked["A-1"]) == "pending"
