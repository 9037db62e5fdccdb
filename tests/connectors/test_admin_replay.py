"""The admin's event list (the outcome of each event's runs, its filter, the search inside
payloads) and the two kinds of replay: Resume, and Run again from the start after a page
that lists the outside effects it repeats."""

import pytest
from django.utils import timezone

from connectors import engine
from connectors.models import Event, Run
from teambox.models import Channel, Message
from tests.builders import build_connector
from tests.connectors.test_resume import crm_down_then_up, ingest, lead_flow


@pytest.fixture(autouse=True)
def allow_local(settings):
    settings.PICKY_OUTBOUND_ALLOWLIST = ["127.0.0.1"]


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def sandbox(project):
    return Channel.objects.create(project=project, name="Sandbox", kind=Channel.Kind.SANDBOX)


@pytest.fixture
def failed_run(project, sandbox, httpserver):
    """A lead thanked on the sandbox channel, then the CRM answered 503: the run failed."""
    crm_down_then_up(httpserver)
    run = engine.process_event(ingest(lead_flow(project, httpserver)).pk)
    assert run.status == Run.Status.FAILED
    return run


def receive(connector, payload, **fields):
    return Event.objects.create(
        project=connector.project,
        connector=connector,
        payload=payload,
        method="POST",
        received_at=timezone.now(),
        **fields,
    )


def listed(member_client, query):
    response = member_client.get(f"/admin/connectors/event/?{query}")
    assert response.status_code == 200
    return sorted(event.pk for event in response.context["cl"].result_list)


@pytest.mark.django_db
class TestEventList:
    def test_shows_and_filters_the_outcome_of_the_runs(self, member_client, project):
        connector = build_connector(
            project, steps=[{"actions": [("stop_processing", {})]}], name="Stops"
        )
        fine = build_connector(project, steps=[], name="Fine")
        stopped = engine.process_event(ingest(connector, {"n": 1}).pk).event
        succeeded = engine.process_event(ingest(fine, {"n": 2}).pk).event
        rejected = receive(fine, None, status=Event.Status.REJECTED)
        queued = receive(fine, {"n": 3})

        content = member_client.get("/admin/connectors/event/").content.decode()
        assert 'picky-status-stopped">Stopped<' in content
        assert 'picky-status-succeeded">Succeeded<' in content
        assert "Processed" not in content
        assert listed(member_client, "outcome=stopped") == [stopped.pk]
        assert listed(member_client, "outcome=succeeded") == [succeeded.pk]
        assert listed(member_client, "outcome=rejected") == [rejected.pk]
        assert listed(member_client, "outcome=queued") == [queued.pk]
        assert listed(member_client, "outcome=failed") == []

    def test_the_latest_run_gives_the_outcome(self, member_client, failed_run):
        assert listed(member_client, "outcome=failed") == [failed_run.event_id]
        engine.continue_run(engine.resume_run(failed_run).pk)
        assert listed(member_client, "outcome=failed") == []
        assert listed(member_client, "outcome=succeeded") == [failed_run.event_id]

    def test_search_looks_inside_payloads(self, member_client, project, other_project):
        connector = build_connector(project, name="Leads")
        asha = receive(connector, {"name": "Asha Nair", "phone": 919847012345,
                                   "contact": {"email": "Asha@Example.com"}})  # fmt: skip
        jose = receive(connector, {"name": "José Ramos", "note": 'said "call me"'})
        receive(connector, {"name": "Ravi"}, source_ip="203.0.113.5")
        theirs = build_connector(other_project, name="Theirs")
        receive(theirs, {"name": "Asha Nair", "phone": 919847012345})

        assert listed(member_client, "q=asha") == [asha.pk]
        assert listed(member_client, "q=98470") == [asha.pk]
        assert listed(member_client, "q=asha@example.com") == [asha.pk]
        assert listed(member_client, "q=nair+asha") == [asha.pk]
        assert listed(member_client, "q=José") == [jose.pk]
        assert listed(member_client, "q=%22call+me%22") == [jose.pk]
        assert listed(member_client, "q=203.0.113.5") != []
        assert listed(member_client, "q=nobody") == []


@pytest.mark.django_db
class TestReplayPages:
    def test_resume_from_the_run_page_does_not_message_again(self, member_client, failed_run):
        url = f"/admin/connectors/run/{failed_run.pk}/"
        content = member_client.get(url + "change/").content.decode()
        assert f'action="{url}resume/"' in content
        assert "goes on at Step 2 · Tell the CRM" in content

        response = member_client.post(url + "resume/")

        resumed = Run.objects.get(resume_of=failed_run)
        assert response["Location"] == f"/admin/connectors/run/{resumed.pk}/change/"
        engine.continue_run(resumed.pk)
        assert Run.objects.get(pk=resumed.pk).status == Run.Status.SUCCEEDED
        assert Message.objects.count() == 1
        # The resumed run is the latest: the first can no longer be resumed.
        page = member_client.get(url + "change/").content.decode()
        assert f'action="{url}resume/"' not in page
        refused = member_client.post(url + "resume/", follow=True).content.decode()
        assert f"run {resumed.pk} is. Resume that one" in refused

    def test_run_again_asks_first_listing_the_outside_effects(self, member_client, failed_run):
        url = f"/admin/connectors/event/{failed_run.event_id}/replay/"
        page = member_client.get(url)
        assert page.status_code == 200
        effects = [
            (effect["step"], effect["type"], effect["ran"]) for effect in page.context["effects"]
        ]
        assert effects == [
            ("Step 1 · Thank the lead", "Send Message", True),
            ("Step 2 · Tell the CRM", "HTTP Request", False),
        ]
        content = page.content.decode()
        assert "will run again" in content and "Resume run" in content
        assert not Run.objects.exclude(pk=failed_run.pk).exists()

        response = member_client.post(url)

        again = Run.objects.get(replay_of=failed_run, resume_of=None)
        assert response["Location"] == f"/admin/connectors/run/{again.pk}/change/"
        engine.continue_run(again.pk)
        assert Message.objects.count() == 2

    def test_resume_from_the_event_page(self, member_client, failed_run):
        url = f"/admin/connectors/event/{failed_run.event_id}/"
        content = member_client.get(url + "change/").content.decode()
        assert f"Resume run {failed_run.pk}" in content
        response = member_client.post(url + "resume/")
        resumed = Run.objects.get(resume_of=failed_run)
        assert response["Location"] == f"/admin/connectors/run/{resumed.pk}/change/"

    def test_a_succeeded_run_offers_only_run_again(self, member_client, project):
        run = engine.process_event(ingest(build_connector(project), {"n": 1}).pk)
        content = member_client.get(f"/admin/connectors/run/{run.pk}/change/").content.decode()
        assert "/resume/" not in content
        assert f"/admin/connectors/run/{run.pk}/replay/" in content
        page = member_client.get(f"/admin/connectors/run/{run.pk}/replay/").content.decode()
        assert "No action of this connector reaches outside Picky" in page
