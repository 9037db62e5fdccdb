"""Resume a failed run where it ended, or run its event again from the start: a resumed run
does not repeat what the run it continues did (the thank-you message stays one), and goes on
with its vars, contact, elapsed delay and iterator item (connectors/engine/replay.py)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from connectors import delays, engine, services
from connectors.models import Run, RunLog
from teambox.models import Channel, Message
from tests.api_client import api_client
from tests.builders import build_connector

LEAD = {"name": "Asha", "phone": "919847012345", "items": ["lamp", "fan", "heater"]}


@pytest.fixture(autouse=True)
def allow_local(settings):
    settings.PICKY_OUTBOUND_ALLOWLIST = ["127.0.0.1"]


@pytest.fixture
def sandbox(project):
    return Channel.objects.create(project=project, name="Sandbox", kind=Channel.Kind.SANDBOX)


def crm_url(httpserver, path="/crm"):
    return httpserver.url_for(path).replace("localhost", "127.0.0.1")


def lead_flow(project, httpserver, delay=None):
    """Step 1 thanks the lead and notes its tier; step 2 (after `delay`) tells the CRM."""
    return build_connector(
        project,
        name="Leads",
        field_mapping={"number": "{{ event.phone }}", "name": "{{ event.name }}"},
        steps=[
            {
                "name": "Thank the lead",
                "actions": [
                    ("send_message", {"channel": "Sandbox", "to": ["{{ contact.number }}"],
                                      "text": "Thanks {{ contact.name }}!"}),
                    ("set_variable", {"name": "tier", "value": "gold"}),
                ],
            },
            {
                "name": "Tell the CRM",
                "delay": delay,
                "actions": [
                    ("http_request", {"method": "POST", "url": crm_url(httpserver),
                                      "body_type": "json",
                                      "body": {"who": "{{ contact.name }}",
                                               "tier": "{{ vars.tier }}"}}),
                ],
            },
        ],
    )  # fmt: skip


def ingest(connector, payload=LEAD):
    return services.record_event(
        connector, payload, method="POST", headers={}, source_ip="127.0.0.1"
    )


def crm_down_then_up(httpserver, down=1):
    for _ in range(down):
        httpserver.expect_ordered_request("/crm").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/crm").respond_with_json({"ok": True})


def resumed(run):
    """Resume `run` and execute the new run as a worker would."""
    new_run = engine.resume_run(run)
    engine.continue_run(new_run.pk)
    new_run.refresh_from_db()
    return new_run


@pytest.mark.django_db
def test_resume_after_a_failed_request_does_not_send_the_thank_you_again(
    project, sandbox, httpserver
):
    crm_down_then_up(httpserver)
    connector = lead_flow(project, httpserver)
    first = engine.process_event(ingest(connector).pk)
    assert first.status == Run.Status.FAILED
    assert Message.objects.count() == 1

    second = resumed(first)

    assert second.status == Run.Status.SUCCEEDED, second.error
    assert (second.resume_of, second.replay_of, second.next_step) == (first, first, 1)
    assert Message.objects.count() == 1
    # The request went out again with the vars and contact the first run had.
    assert httpserver.log[-1][0].get_json() == {
        "who": "Asha",
        "tier": "gold",
    }
    assert len(httpserver.log) == 2
    # The resumed run's timeline starts at the step that failed.
    lines = list(second.logs.order_by("id").values_list("kind", "action_type", "status"))
    assert lines == [("action", "http_request", "ran"), ("step", "", "ran")]
    assert second.contact_id == first.contact_id


@pytest.mark.django_db
def test_a_resumption_does_not_run_again_a_message_skipped_for_want_of_a_number(
    project, sandbox, httpserver
):
    """A message skipped because the lead has no number is done, as a ran one is: the
    resumed run does not try it again (nor warn about it again) before the failed request."""
    connector = build_connector(
        project,
        steps=[{"actions": [
            ("send_message", {"channel": "Sandbox", "to": ["{{ event.phone }}"], "text": "Hi"}),
            ("http_request", {"url": crm_url(httpserver), "method": "GET"}),
        ]}],
    )  # fmt: skip
    crm_down_then_up(httpserver)
    first = engine.process_event(ingest(connector, {"name": "Asha"}).pk)
    assert first.status == Run.Status.FAILED
    skipped = first.logs.get(action_type="send_message")
    assert skipped.status == RunLog.Status.SKIPPED and "no phone number" in skipped.error

    second = resumed(first)

    assert second.status == Run.Status.SUCCEEDED, second.error
    lines = list(second.logs.order_by("id").values_list("kind", "action_type", "status"))
    assert lines == [("action", "http_request", "ran"), ("step", "", "ran")]
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_run_again_from_the_start_repeats_the_message(project, sandbox, httpserver):
    crm_down_then_up(httpserver)
    connector = lead_flow(project, httpserver)
    first = engine.process_event(ingest(connector).pk)

    again = engine.replay_event(first.event)
    engine.continue_run(again.pk)
    again.refresh_from_db()

    assert again.status == Run.Status.SUCCEEDED
    assert (again.replay_of, again.resume_of) == (first, None)
    assert Message.objects.count() == 2


@pytest.mark.django_db
def test_a_resumption_keys_its_effects_as_the_first_run(project, sandbox, httpserver):
    """A message sent by a resumed run carries the first run's key: an effect the first run
    half did (a message queued, then the action failed) is not doubled."""
    connector = build_connector(
        project,
        steps=[{"actions": [
            ("http_request", {"url": crm_url(httpserver), "method": "GET"}),
            ("send_message", {"channel": "Sandbox", "to": ["919847012345"], "text": "Hi"}),
        ]}],
    )  # fmt: skip
    crm_down_then_up(httpserver)
    first = engine.process_event(ingest(connector).pk)
    second = resumed(first)
    assert second.status == Run.Status.SUCCEEDED
    assert Message.objects.get().idempotency_key.startswith(f"run{first.pk}:")


@pytest.mark.django_db
def test_a_resumed_iterator_goes_on_at_the_item_that_failed(project, sandbox, httpserver):
    connector = build_connector(
        project,
        steps=[{
            "iterator": {"path": "event.items"},
            "actions": [
                ("send_message", {"channel": "Sandbox", "to": ["919847012345"],
                                  "text": "About the {{ item }}"}),
                ("http_request", {"url": crm_url(httpserver, "/crm") + "?sku={{ item }}",
                                  "method": "GET"}),
            ],
        }],
    )  # fmt: skip
    httpserver.expect_ordered_request("/crm").respond_with_json({})  # lamp
    crm_down_then_up(httpserver)  # fan fails, then goes through on resume
    httpserver.expect_ordered_request("/crm").respond_with_json({})  # heater
    first = engine.process_event(ingest(connector).pk)
    assert first.status == Run.Status.FAILED
    assert Message.objects.count() == 2  # lamp and fan

    second = resumed(first)

    assert second.status == Run.Status.SUCCEEDED, second.error
    assert list(Message.objects.order_by("pk").values_list("body", flat=True)) == [
        "About the lamp",
        "About the fan",
        "About the heater",
    ]
    skus = [request.args["sku"] for request, _ in httpserver.log]
    assert skus == ["lamp", "fan", "fan", "heater"]


@pytest.mark.django_db
def test_a_resumption_of_a_resumption_skips_what_both_did(project, sandbox, httpserver):
    crm_down_then_up(httpserver, down=2)
    connector = lead_flow(project, httpserver)
    first = engine.process_event(ingest(connector).pk)
    second = resumed(first)
    assert second.status == Run.Status.FAILED
    third = resumed(second)
    assert third.status == Run.Status.SUCCEEDED
    assert (third.resume_of, Message.objects.count()) == (first, 1)
    # Only the latest run of an event can be resumed.
    with pytest.raises(engine.ReplayRefused, match=f"run {third.pk} is. Resume that one"):
        engine.resume_run(first)


@pytest.mark.django_db
def test_a_step_whose_delay_elapsed_is_resumed_without_waiting_again(project, sandbox, httpserver):
    crm_down_then_up(httpserver)
    connector = lead_flow(project, httpserver, delay={"mode": "fixed", "amount": 1,
                                                      "unit": "hours"})  # fmt: skip
    first = engine.process_event(ingest(connector).pk)
    assert first.status == Run.Status.WAITING
    with pytest.raises(engine.ReplayRefused, match="waiting on a delay"):
        engine.resume_run(first)
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        delays.sweep_due_delays()
        engine.continue_run(first.pk)
    first.refresh_from_db()
    assert first.status == Run.Status.FAILED

    second = resumed(first)

    assert second.status == Run.Status.SUCCEEDED, second.error
    assert not second.logs.filter(status=RunLog.Status.WAITING).exists()
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_runs_that_cannot_be_resumed_say_why(project, sandbox, httpserver):
    httpserver.expect_request("/crm").respond_with_json({})
    connector = lead_flow(project, httpserver)
    run = engine.process_event(ingest(connector).pk)
    assert run.status == Run.Status.SUCCEEDED
    with pytest.raises(engine.ReplayRefused, match="succeeded: there is nothing to resume"):
        engine.resume_run(run)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING)
    with pytest.raises(engine.ReplayRefused, match="has not ended yet"):
        engine.resume_run(run)
    assert Run.objects.count() == 1


@pytest.mark.django_db
def test_the_effects_a_run_again_repeats_are_listed(project, sandbox, httpserver):
    crm_down_then_up(httpserver)
    connector = lead_flow(project, httpserver)
    first = engine.process_event(ingest(connector).pk)
    effects = engine.outside_effects(connector, first)
    assert effects == [
        {"step": "Step 1 · Thank the lead", "name": "Send Message", "type": "Send Message",
         "ran": True},
        {"step": "Step 2 · Tell the CRM", "name": "HTTP Request", "type": "HTTP Request",
         "ran": False},
    ]  # fmt: skip
    assert engine.resume_point(first) == "Step 2 · Tell the CRM"


@pytest.mark.django_db
class TestApi:
    @pytest.fixture
    def api(self, project):
        return api_client(project)

    def test_from_failed_step_resumes_the_latest_run(self, api, project, sandbox, httpserver):
        crm_down_then_up(httpserver)
        connector = lead_flow(project, httpserver)
        first = engine.process_event(ingest(connector).pk)

        response = api.post(
            f"/api/v1/events/{first.event_id}/replay", {"from": "failed_step"}, format="json"
        )

        assert response.status_code == 202, response.json()
        body = response.json()
        assert body["from"] == "failed_step" and body["resumed_run"] == first.pk
        engine.continue_run(body["run"])
        assert Run.objects.get(pk=body["run"]).status == Run.Status.SUCCEEDED
        assert Message.objects.count() == 1
        runs = api.get(f"/api/v1/events/{first.event_id}").json()["runs"]
        assert [run["resume_of"] for run in runs] == [None, first.pk]

    def test_from_start_repeats_every_step(self, api, project, sandbox, httpserver):
        crm_down_then_up(httpserver)
        connector = lead_flow(project, httpserver)
        first = engine.process_event(ingest(connector).pk)

        response = api.post(
            f"/api/v1/events/{first.event_id}/replay", {"from": "start"}, format="json"
        )

        assert response.status_code == 202
        assert response.json()["resumed_run"] is None
        engine.continue_run(response.json()["run"])
        assert Message.objects.count() == 2

    def test_a_run_that_cannot_be_resumed_is_a_409_that_says_why(
        self, api, project, sandbox, httpserver
    ):
        httpserver.expect_request("/crm").respond_with_json({})
        connector = lead_flow(project, httpserver)
        event = ingest(connector)
        url = f"/api/v1/events/{event.pk}/replay"
        response = api.post(url, {"from": "failed_step"}, format="json")
        assert response.status_code == 409
        assert response.json() == {"detail": f"Event {event.pk} has no run to resume yet."}
        run = engine.process_event(event.pk)
        response = api.post(url, {"from": "failed_step"}, format="json")
        assert response.status_code == 409
        assert response.json()["detail"] == (
            f"Run {run.pk} succeeded: there is nothing to resume. "
            "Run the event again from the start instead."
        )
        response = api.post(url, {"from": "middle"}, format="json")
        assert response.status_code == 400
        assert response.json() == {
            "from": [
                'Use "start" (run every step again) or "failed_step" (resume the latest run '
                "where it ended), not 'middle'."
            ]
        }
        assert Run.objects.count() == 1


@pytest.mark.django_db
def test_a_run_stopped_on_a_cancelled_delay_waits_again_when_resumed(project, sandbox, httpserver):
    delay = {"mode": "fixed", "amount": 1, "unit": "hours", "identifier": "{{ event.name }}"}
    connector = lead_flow(project, httpserver, delay=delay)
    first = engine.process_event(ingest(connector).pk)
    assert delays.cancel_delays(connector, "Asha", "The meeting was cancelled.") == 1
    first.refresh_from_db()
    assert first.status == Run.Status.STOPPED

    second = resumed(first)

    assert second.status == Run.Status.WAITING
    assert second.schedules.get().identifier == "Asha"
    assert Message.objects.count() == 1
