"""Event pages (payload, remap, replay), run timelines and the simulation page."""

import pytest
from django.core import mail
from django.utils import timezone

from connectors import engine
from connectors.models import Event, Run, RunLog
from connectors.services import map_first_sample
from tests.builders import build_connector


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def flow(project):
    """Step 1 emails everyone; step 2 only runs for Kerala and sets a variable."""
    return build_connector(
        project,
        name="Leads",
        steps=[
            {
                "name": "Thank",
                "actions": [
                    (
                        "send_email",
                        {
                            "to": ["{{ event.email }}"],
                            "subject": "Thanks {{ event.name }}",
                            "body": "We will call you.",
                        },
                    )
                ],
            },
            {
                "name": "Kerala only",
                "filters": [[{"field": "{{ event.state }}", "op": "equals", "value": "Kerala"}]],
                "actions": [("set_variable", {"name": "region", "value": "south"})],
            },
        ],
    )


def receive(connector, payload, **fields):
    return Event.objects.create(
        project=connector.project,
        connector=connector,
        payload=payload,
        method="POST",
        received_at=timezone.now(),
        **fields,
    )


LEAD = {"name": "Asha <b>", "email": "asha@example.com", "state": "Goa"}


@pytest.mark.django_db
class TestEventPage:
    def test_payload_is_pretty_and_escaped(self, member_client, flow):
        event = receive(flow, LEAD)
        content = member_client.get(f"/admin/connectors/event/{event.pk}/change/").content.decode()
        assert "&quot;name&quot;: &quot;Asha &lt;b&gt;&quot;," in content
        assert "Asha <b>" not in content
        assert "Run again from the start" in content and "Remap from this event" in content

    def test_rejected_event_shows_why_and_offers_no_replay(self, member_client, flow):
        event = receive(
            flow, None, status=Event.Status.REJECTED, raw_body="{oops", error="Malformed JSON"
        )
        content = member_client.get(f"/admin/connectors/event/{event.pk}/change/").content.decode()
        assert "Malformed JSON" in content and "{oops" in content
        assert f"/admin/connectors/event/{event.pk}/replay/" not in content
        response = member_client.post(f"/admin/connectors/event/{event.pk}/replay/", follow=True)
        assert "nothing to replay" in response.content.decode()
        assert not Run.objects.exists()

    def test_list_filters_by_status(self, member_client, flow):
        receive(flow, {"n": 1}, source_ip="203.0.113.1")
        receive(flow, None, status=Event.Status.REJECTED, source_ip="203.0.113.2")
        content = member_client.get("/admin/connectors/event/?status__exact=rejected").content
        assert b"203.0.113.2" in content and b"203.0.113.1" not in content

    def test_replay_creates_a_new_run_of_the_event(self, member_client, flow):
        event = receive(flow, LEAD)
        first = engine.process_event(event.pk)
        response = member_client.post(f"/admin/connectors/event/{event.pk}/replay/")
        replayed = Run.objects.exclude(pk=first.pk).get()
        assert response["Location"] == f"/admin/connectors/run/{replayed.pk}/change/"
        assert (replayed.event, replayed.replay_of) == (event, first)
        content = member_client.get(f"/admin/connectors/event/{event.pk}/change/").content
        assert f"Run {first.pk}".encode() in content and f"Run {replayed.pk}".encode() in content

    def test_remap_from_the_event_page(self, member_client, flow):
        map_first_sample(flow, {"old": 1})
        event = receive(flow, {"new": {"field": 2}})
        response = member_client.post(f"/admin/connectors/event/{event.pk}/remap/")
        assert response["Location"] == f"/admin/connectors/connector/{flow.pk}/change/"
        flow.refresh_from_db()
        assert flow.mapped_paths == ["event.new.field"]

    def test_remap_admin_action_takes_exactly_one_event(self, member_client, flow):
        map_first_sample(flow, {"old": 1})
        first = receive(flow, {"a": 1})
        second = receive(flow, {"b": 1})
        response = member_client.post(
            "/admin/connectors/event/",
            {"action": "remap_from_selected", "_selected_action": [first.pk, second.pk]},
            follow=True,
        )
        assert "Select exactly one event" in response.content.decode()
        flow.refresh_from_db()
        assert flow.sample_payload == {"old": 1}
        member_client.post(
            "/admin/connectors/event/",
            {"action": "remap_from_selected", "_selected_action": [second.pk]},
        )
        flow.refresh_from_db()
        assert flow.sample_payload == {"b": 1}


@pytest.mark.django_db
class TestRunPage:
    def test_timeline_shows_steps_and_actions_in_order(self, member_client, flow):
        event = receive(flow, LEAD)
        run = engine.process_event(event.pk)
        response = member_client.get(f"/admin/connectors/run/{run.pk}/change/")
        titles = [row["title"] for row in response.context["rows"]]
        assert titles == ["Step 1 · Thank", "Action 1 · Send Email", "Step 2 · Kerala only"]
        statuses = [row["status"] for row in response.context["rows"]]
        assert statuses == ["ran", "ran", "skipped"]
        content = response.content.decode()
        # Inputs after templating, outputs, and the link to the event.
        assert "Thanks Asha &lt;b&gt;" in content
        assert "&quot;to&quot;: [" in content
        assert f'href="/admin/connectors/event/{event.pk}/change/"' in content
        assert f"/admin/connectors/run/{run.pk}/replay/" in content

    def test_failed_action_shows_its_error(self, member_client, project):
        connector = build_connector(
            project,
            steps=[
                {
                    "actions": [
                        ("send_email", {"to": ["{{ event.email }}"], "subject": "x", "body": "y"})
                    ]
                }
            ],
        )
        run = engine.process_event(receive(connector, {"email": "not-an-address"}).pk)
        assert run.status == Run.Status.FAILED
        response = member_client.get(f"/admin/connectors/run/{run.pk}/change/")
        failed = [row for row in response.context["rows"] if row["status"] == "failed"]
        assert failed and "No e-mail was sent" in failed[0]["error"]
        assert "No e-mail was sent" in response.content.decode()

    def test_replay_from_the_run_page(self, member_client, flow):
        run = engine.process_event(receive(flow, LEAD).pk)
        response = member_client.post(f"/admin/connectors/run/{run.pk}/replay/")
        replayed = Run.objects.get(replay_of=run)
        assert response["Location"] == f"/admin/connectors/run/{replayed.pk}/change/"

    def test_runs_are_read_only(self, member_client, flow):
        run = engine.process_event(receive(flow, LEAD).pk)
        content = member_client.get(f"/admin/connectors/run/{run.pk}/change/").content.decode()
        assert 'name="_save"' not in content


@pytest.mark.django_db
class TestSimulate:
    def test_prefills_the_sample_payload(self, member_client, flow):
        map_first_sample(flow, {"state": "Kerala"})
        response = member_client.get(f"/admin/connectors/connector/{flow.pk}/simulate/")
        assert "&quot;state&quot;: &quot;Kerala&quot;" in response.content.decode()

    def test_runs_a_dry_run_and_writes_nothing(self, member_client, flow):
        response = member_client.post(
            f"/admin/connectors/connector/{flow.pk}/simulate/",
            {"payload": '{"name": "Asha", "email": "asha@example.com", "state": "Kerala"}'},
        )
        rows = response.context["rows"]
        assert [(row["title"], row["status"]) for row in rows] == [
            ("Step 1 · Thank", "ran"),
            ("Action 1 · Send Email", "ran"),
            ("Step 2 · Kerala only", "ran"),
            ("Action 1 · Set Variable", "ran"),
        ]
        assert rows[1]["outputs"]["simulated"] is True
        assert [row["not_sent"] for row in rows] == [False, True, False, False]
        content = response.content.decode()
        assert "not sent (simulation)" in content
        assert "Thanks Asha" in content
        assert "&quot;region&quot;: &quot;south&quot;" in content
        assert mail.outbox == []
        assert not Event.objects.exists() and not Run.objects.exists()
        assert not RunLog.objects.exists()

    def test_filters_are_evaluated(self, member_client, flow):
        response = member_client.post(
            f"/admin/connectors/connector/{flow.pk}/simulate/",
            {"payload": '{"email": "a@example.com", "state": "Goa"}'},
        )
        assert response.context["rows"][-1]["status"] == "skipped"

    def test_invalid_json_says_where(self, member_client, flow):
        response = member_client.post(
            f"/admin/connectors/connector/{flow.pk}/simulate/", {"payload": '{"a": 1,}'}
        )
        assert "Not valid JSON: Expecting property name enclosed in double quotes" in (
            response.content.decode()
        )
        assert response.context["simulation"] is None
