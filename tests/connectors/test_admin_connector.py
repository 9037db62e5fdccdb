"""The connector page: URL, mapping, paths tree, structure change, events, stats,
steps, export and import."""

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.models import Connector, Event, Run, RunLog, Step
from connectors.services import map_first_sample
from tests.builders import build_connector

SAMPLE = {
    "name": "Asha",
    "customer": {"email": "asha@example.com"},
    "items": [{"sku": "LAMP-1", "qty": 2}],
    "Product Interested": "Lamp",
    "note": "<script>alert(1)</script>",
}


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def change_url(connector):
    return f"/admin/connectors/connector/{connector.pk}/change/"


def connector_form(connector, **overrides):
    """The change form's POST data as the page would send it, steps included."""
    steps = list(connector.steps.all())
    data = {
        "name": connector.name,
        "description": connector.description,
        "enabled": "on" if connector.enabled else "",
        "field_mapping": json.dumps(connector.field_mapping),
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(len(steps)),
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    for index, step in enumerate(steps):
        data[f"steps-{index}-id"] = str(step.pk)
        data[f"steps-{index}-connector"] = str(connector.pk)
        data[f"steps-{index}-name"] = step.name
        data[f"steps-{index}-position"] = str(step.position)
    data.update(overrides)
    return data


def add_event(connector, payload, status=Event.Status.PROCESSED, minutes_ago=0, **fields):
    return Event.objects.create(
        project=connector.project,
        connector=connector,
        payload=payload,
        method="POST",
        received_at=timezone.now() - timedelta(minutes=minutes_ago),
        status=status,
        **fields,
    )


@pytest.mark.django_db
class TestConnectorPage:
    def test_shows_the_url_with_a_copy_button(self, member_client, connector):
        content = member_client.get(change_url(connector)).content.decode()
        assert f'data-copy="{connector.url}"' in content
        assert "picky/copy.js" in content

    def test_links_to_its_events_runs_delays_and_simulation(self, member_client, connector):
        content = member_client.get(change_url(connector)).content.decode()
        for url in [
            f"/admin/connectors/event/?connector__id__exact={connector.pk}",
            f"/admin/connectors/run/?connector__id__exact={connector.pk}",
            f"/admin/connectors/scheduledstep/?connector={connector.pk}",
            f"/admin/connectors/connector/{connector.pk}/simulate/",
            f"/admin/connectors/connector/{connector.pk}/export/",
        ]:
            assert url in content, url

    def test_a_disabled_connector_says_so(self, member_client, connector):
        assert (
            "This connector is disabled"
            not in member_client.get(change_url(connector)).content.decode()
        )
        Connector.objects.filter(pk=connector.pk).update(enabled=False)
        assert (
            "This connector is disabled"
            in member_client.get(change_url(connector)).content.decode()
        )

    def test_without_events_it_says_how_to_start(self, member_client, connector):
        content = member_client.get(change_url(connector)).content.decode()
        assert "No event received yet" in content

    def test_mapped_paths_tree_offers_each_template(self, member_client, connector):
        map_first_sample(connector, SAMPLE)
        content = member_client.get(change_url(connector)).content.decode()
        for template in [
            "{{ event.name }}",
            "{{ event.customer.email }}",
            "{{ event.items }}",
            "{{ event.items[0].sku }}",
            "{{ event.&quot;Product Interested&quot; }}",
        ]:
            assert f'data-copy="{template}"' in content, template
        # Payload text is escaped, never markup.
        assert "<script>alert(1)</script>" not in content
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content

    def test_structure_change_notice_and_remap(self, member_client, connector):
        map_first_sample(connector, SAMPLE)
        content = member_client.get(change_url(connector)).content.decode()
        assert "JSON structure change detected" not in content

        add_event(connector, {"phone": "9198"}, minutes_ago=10)
        latest = add_event(connector, {"phone": "9199", "city": "Kochi"}, minutes_ago=5)
        add_event(connector, None, status=Event.Status.REJECTED, error="Malformed JSON")
        Connector.objects.filter(pk=connector.pk).update(structure_changed=True)

        content = member_client.get(change_url(connector)).content.decode()
        assert "JSON structure change detected" in content
        remap_url = f"/admin/connectors/connector/{connector.pk}/remap/"
        assert f'action="{remap_url}"' in content

        response = member_client.post(remap_url, follow=True)
        connector.refresh_from_db()
        assert connector.sample_payload == latest.payload
        # PostgreSQL's jsonb does not keep key order: compare the paths, not their order.
        assert sorted(connector.mapped_paths) == ["event.city", "event.phone"]
        assert not connector.structure_changed
        assert "Remapped from event" in response.content.decode()

    def test_remap_needs_a_post(self, member_client, connector):
        assert (
            member_client.get(f"/admin/connectors/connector/{connector.pk}/remap/").status_code
            == 405
        )

    def test_recent_events_filterable_by_status(self, member_client, connector):
        add_event(connector, {"n": 1}, source_ip="203.0.113.5")
        add_event(connector, None, status=Event.Status.REJECTED, error="Body over 1 MiB")
        content = member_client.get(change_url(connector)).content.decode()
        assert "203.0.113.5" in content and "Body over 1 MiB" in content
        content = member_client.get(
            change_url(connector) + "?event_status=rejected"
        ).content.decode()
        assert "Body over 1 MiB" in content
        assert "203.0.113.5" not in content

    def test_stats_are_shown(self, member_client, connector):
        step = Step.objects.create(connector=connector, name="Thank")
        for status in ["succeeded", "succeeded", "failed"]:
            event = add_event(connector, {})
            run = Run.objects.create(
                project=connector.project, connector=connector, event=event, status=status
            )
            RunLog.objects.create(run=run, kind="step", step=step, status="ran")
        response = member_client.get(change_url(connector))
        stats = response.context["stats"]
        assert (stats["24h"]["events"], stats["24h"]["succeeded"], stats["24h"]["failed"]) == (
            3,
            2,
            1,
        )
        assert response.context["step_stats"][0]["day"]["passed"] == 3
        assert "Runs succeeded" in response.content.decode()

    def test_steps_are_listed_with_a_link_to_their_actions(self, member_client, project):
        connector = build_connector(
            project,
            steps=[
                {
                    "name": "Thank",
                    "filters": [[{"field": "{{ event.a }}", "op": "exists"}]],
                    "actions": [("stop_processing", {})],
                }
            ],
        )
        step = connector.steps.get()
        content = member_client.get(change_url(connector)).content.decode()
        assert f"/admin/connectors/step/{step.pk}/change/" in content
        assert "runs when a exists" in content and "actions: Stop Processing" in content
        assert f"/admin/connectors/step/add/?connector={connector.pk}" in content


@pytest.mark.django_db
class TestSaving:
    def test_field_mapping_is_saved(self, member_client, connector):
        mapping = {"number": "{{ event.phone }}", "attributes": {"state": "{{ event.state }}"}}
        response = member_client.post(
            change_url(connector), connector_form(connector, field_mapping=json.dumps(mapping))
        )
        assert response.status_code == 302
        connector.refresh_from_db()
        assert connector.field_mapping == mapping

    @pytest.mark.parametrize(
        "mapping,message",
        [
            ('{"number": "{{ event.phone }"', "Not valid JSON: Expecting"),
            (
                '{"attributes": {"state": "{{ event..state }}"}}',
                "field_mapping.attributes.state: Invalid path",
            ),
            ('{"phone": "{{ event.phone }}"}', "field_mapping.phone: unknown key"),
            ('{"number": 42}', "field_mapping.number: must be text"),
        ],
    )
    def test_field_mapping_errors_say_where(self, member_client, connector, mapping, message):
        response = member_client.post(
            change_url(connector), connector_form(connector, field_mapping=mapping)
        )
        assert response.status_code == 200
        assert message in response.content.decode()
        connector.refresh_from_db()
        assert connector.field_mapping == {}

    def test_steps_reorder_from_the_inline(self, member_client, project):
        connector = build_connector(project, steps=[{"name": "First"}, {"name": "Second"}])
        first, second = connector.steps.order_by("position")
        data = connector_form(connector)
        index = {step.pk: i for i, step in enumerate(connector.steps.all())}
        data[f"steps-{index[first.pk]}-position"] = "2"
        data[f"steps-{index[second.pk]}-position"] = "1"
        assert member_client.post(change_url(connector), data).status_code == 302
        assert [s.name for s in connector.steps.order_by("position")] == ["Second", "First"]

    def test_project_of_the_only_membership_is_preselected(self, member_client, project):
        response = member_client.get("/admin/connectors/connector/add/")
        assert response.context["adminform"].form.initial["project"] == project.pk


@pytest.mark.django_db
class TestExportImport:
    def test_export_downloads_the_connector_json(self, member_client, project):
        connector = build_connector(
            project,
            name="Web leads",
            steps=[{"name": "Stop", "actions": [("stop_processing", {})]}],
        )
        response = member_client.get(f"/admin/connectors/connector/{connector.pk}/export/")
        assert response["Content-Disposition"] == 'attachment; filename="acme-web-leads.json"'
        document = json.loads(response.content)
        assert document["format"] == "picky.connector/v1"
        assert document["steps"][0]["actions"] == [{"type": "stop_processing", "config": {}}]

    def test_export_action_bundles_several_in_a_zip(self, member_client, project):
        first = build_connector(project, name="One")
        second = build_connector(project, name="Two")
        response = member_client.post(
            "/admin/connectors/connector/",
            {"action": "export_selected", "_selected_action": [first.pk, second.pk]},
        )
        assert response["Content-Type"] == "application/zip"
        bundle = zipfile.ZipFile(io.BytesIO(response.content))
        assert sorted(bundle.namelist()) == ["acme-one.json", "acme-two.json"]
        assert json.loads(bundle.read("acme-one.json"))["name"] == "One"

    def test_import_creates_the_connector(self, member_client, project):
        document = {
            "format": "picky.connector/v1",
            "name": "Imported",
            "steps": [{"name": "S", "actions": [{"type": "stop_processing", "config": {}}]}],
        }
        upload = io.BytesIO(json.dumps(document).encode())
        upload.name = "imported.json"
        response = member_client.post(
            "/admin/connectors/connector/import/", {"project": project.pk, "file": upload}
        )
        connector = Connector.objects.get(name="Imported")
        assert response.status_code == 302
        assert response["Location"] == change_url(connector)
        assert connector.steps.get().actions.get().type == "stop_processing"

    def test_import_lists_every_error_with_its_path(self, member_client, project):
        document = {
            "format": "picky.connector/v2",
            "name": "Broken",
            "steps": [
                {"actions": [{"type": "no_such_type"}]},
                {"filters": [[{"field": "{{ event.a }}", "op": "resembles"}]]},
            ],
        }
        response = member_client.post(
            "/admin/connectors/connector/import/",
            {"project": project.pk, "document": json.dumps(document)},
        )
        content = response.content.decode()
        assert response.status_code == 200
        assert "format: must be" in content
        assert "steps[0].actions[0].type: unknown action type" in content
        assert "steps[1].filters[0][0].op" in content
        assert not Connector.objects.filter(name="Broken").exists()

    def test_import_with_a_new_name_and_bad_json(self, member_client, project):
        build_connector(project, name="Taken")
        document = {"format": "picky.connector/v1", "name": "Taken", "steps": []}
        response = member_client.post(
            "/admin/connectors/connector/import/",
            {"project": project.pk, "document": json.dumps(document), "name": "Fresh"},
        )
        assert response.status_code == 302
        assert Connector.objects.filter(name="Fresh").exists()
        response = member_client.post(
            "/admin/connectors/connector/import/",
            {"project": project.pk, "document": '{"format": '},
        )
        assert "Not valid JSON: Expecting value at line 1, column 11." in response.content.decode()

    def test_changelist_links_to_import(self, member_client, connector):
        content = member_client.get("/admin/connectors/connector/").content.decode()
        assert "/admin/connectors/connector/import/" in content


@pytest.mark.django_db
def test_connector_page_queries_do_not_grow_with_steps_and_events(member_client, project):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def page_queries(steps, events):
        connector = build_connector(
            project,
            name=f"Flow {Connector.objects.count()}",
            steps=[
                {"name": f"S{i}", "actions": [("stop_processing", {}), ("stop_processing", {})]}
                for i in range(steps)
            ],
        )
        for number in range(events):
            add_event(connector, {"n": number})
        with CaptureQueriesContext(connection) as queries:
            assert member_client.get(change_url(connector)).status_code == 200
        return len(queries)

    page_queries(steps=1, events=1)  # warms Django's content-type cache
    small = page_queries(steps=1, events=1)
    assert small == page_queries(steps=6, events=25)
    # Each trigger choice list (channels, modules, macro buttons, WhatsApp groups) is a query.
    assert small <= 21
