"""Record workflows: a record created, updated or deleted in a module starts the connectors
triggered by that change of the module, once each, with the record as the event; a
connector changing records of its own module does not loop (the action's "don't trigger
workflows", else the hop count)."""

import pytest
from django.db import connection
from django.utils import timezone

from actions.types.notification import MAX_ROUTING_HOPS
from connectors import engine
from connectors.models import Connector, Event, Run
from connectors.transfer import ConnectorImportError, export_connector, import_connector
from connectors.triggers import RECORD_PAYLOAD_HELP, start_record_runs
from crm.models import Contact
from crm.records import services as records
from crm.records.models import Field, MacroButton, Module, Record
from tests.builders import build_connector
from tests.workers import purge_broker, requires_integration, running_worker, wait_for


@pytest.fixture
def eager_celery():
    from picky.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


def patients_of(project):
    module = Module.objects.create(project=project, name="Patients")
    Field.objects.create(module=module, key="full_name", label="Full name")
    Field.objects.create(module=module, key="visits", label="Visits", type="number")
    return module


@pytest.fixture
def patients(project):
    return patients_of(project)


def on_records(project, module, change, name="On patients", actions=None, **fields):
    """A connector started by `change` of `module`'s records, noting the record it got."""
    noted = [("set_variable", {"name": "seen", "value": "{{ event.record.full_name }}"})]
    return build_connector(
        project,
        name=name,
        trigger=Connector.RECORD_TRIGGERS[change],
        trigger_module=module,
        steps=[{"actions": actions or noted}],
        **fields,
    )


@pytest.mark.django_db
class TestRecordEvents:
    def test_a_record_created_runs_the_connector_with_the_record_and_its_contact(
        self, project, patients, eager_celery, django_capture_on_commit_callbacks
    ):
        connector = on_records(project, patients, "created")
        asha = Contact.objects.create(project=project, number="919847012345", name="Asha")
        with django_capture_on_commit_callbacks(execute=True):
            record = records.add_record(patients, {"full_name": "Asha", "visits": 2}, contact=asha)

        event = Event.objects.get()
        assert (event.connector, event.method, event.hop_count) == (connector, "RECORD", 0)
        assert event.payload == {
            "record": records.record_as_dict(record),
            "before": None,
            "change": "created",
            "module": {"id": patients.pk, "name": "Patients"},
            "contact": {"id": asha.pk, "number": "919847012345", "name": "Asha", "email": ""},
        }
        run = Run.objects.get()
        assert (run.status, run.contact) == (Run.Status.SUCCEEDED, asha)
        assert run.context["vars"]["seen"] == "Asha"
        connector.refresh_from_db()
        assert "event.record.full_name" in connector.mapped_paths

    def test_an_update_carries_the_record_before_and_after(
        self, project, patients, eager_celery, django_capture_on_commit_callbacks
    ):
        on_records(project, patients, "updated")
        record = records.add_record(patients, {"full_name": "Asha", "visits": 2})
        with django_capture_on_commit_callbacks(execute=True):
            records.update_record(record, {"visits": 3})

        payload = Event.objects.get().payload
        assert (payload["change"], payload["before"]["visits"], payload["record"]["visits"]) == (
            "updated",
            2,
            3,
        )
        assert payload["contact"] == {"id": None, "number": "", "name": "", "email": ""}
        assert Run.objects.get().contact is None

    def test_a_deleted_record_is_shown_as_it_was(
        self, project, patients, eager_celery, django_capture_on_commit_callbacks
    ):
        on_records(project, patients, "deleted")
        record = records.add_record(patients, {"full_name": "Asha"})
        with django_capture_on_commit_callbacks(execute=True):
            records.delete_records(
                patients, [[{"field": "id", "op": "equals", "value": record.pk}]]
            )

        payload = Event.objects.get().payload
        assert (payload["change"], payload["record"]["id"], payload["before"]) == (
            "deleted",
            record.pk,
            None,
        )
        assert Run.objects.get().context["vars"]["seen"] == "Asha"

    def test_only_the_enabled_connectors_of_that_change_and_module_start(
        self, project, other_project, patients, django_capture_on_commit_callbacks
    ):
        started = on_records(project, patients, "created", name="Started")
        on_records(project, patients, "created", name="Disabled", enabled=False)
        on_records(project, patients, "updated", name="Other change")
        on_records(
            project, Module.objects.get(project=project, name="Deals"), "created", name="Deals"
        )
        on_records(other_project, patients_of(other_project), "created", name="Elsewhere")
        build_connector(project, name="URL only")

        with django_capture_on_commit_callbacks(execute=True):
            records.add_record(patients, {"full_name": "Asha"})

        assert list(Event.objects.values_list("connector", flat=True)) == [started.pk]

    def test_a_change_signalled_again_starts_each_connector_once(self, project, patients):
        connector = on_records(project, patients, "created")
        record = records.record_as_dict(Record.objects.create(project=project, module=patients))

        first = start_record_runs(patients, record, None, "created")
        again = start_record_runs(patients, record, None, "created")

        assert len(first) == 1 and again == []
        assert Event.objects.filter(connector=connector).count() == 1

    def test_a_write_of_many_records_looks_its_connectors_up_once(
        self, project, patients, django_assert_num_queries
    ):
        rows = [Record.objects.create(project=project, module=patients) for _ in range(3)]
        with django_assert_num_queries(1):
            for row in rows:
                assert (
                    start_record_runs(patients, records.record_as_dict(row), None, "created") == []
                )
        # A write of its own (another module object) looks them up again: it sees this one.
        connector = on_records(project, patients, "created")
        again = Module.objects.get(pk=patients.pk)
        assert len(start_record_runs(again, records.record_as_dict(rows[0]), None, "created")) == 1
        assert Event.objects.get().connector == connector


UPDATE_SELF = {
    "module": "Patients",
    "criteria": [[{"field": "id", "op": "equals", "value": "{{ event.record.id }}"}]],
    "values": {"visits": "{{ event.record.visits }}1"},
}


@pytest.mark.django_db(transaction=True)
class TestLoops:
    """Runs commit for real here: a record change made by a run is signalled at its commit,
    where the run's hop count is known."""

    def test_dont_trigger_workflows_lets_a_connector_update_its_own_module_once(
        self, project, patients, eager_celery
    ):
        update = {**UPDATE_SELF, "skip_workflows": True}
        on_records(project, patients, "updated", actions=[("record_update", update)])
        record = records.add_record(patients, {"full_name": "Asha", "visits": 1})

        records.update_record(record, {"visits": 2})

        run = Run.objects.get()
        assert run.status == Run.Status.SUCCEEDED, run.error
        record.refresh_from_db()
        assert record.data["visits"] == 21

    def test_without_it_the_hop_count_stops_the_loop(self, project, patients, eager_celery):
        on_records(project, patients, "updated", actions=[("record_update", UPDATE_SELF)])
        record = records.add_record(patients, {"full_name": "Asha", "visits": 1})

        records.update_record(record, {"visits": 2})

        hops = sorted(Event.objects.values_list("hop_count", flat=True))
        assert hops == list(range(MAX_ROUTING_HOPS))
        assert set(Run.objects.values_list("status", flat=True)) == {Run.Status.SUCCEEDED}
        record.refresh_from_db()
        assert record.data["visits"] == int("2" + "1" * MAX_ROUTING_HOPS)

    @pytest.mark.skipif(
        connection.vendor != "postgresql", reason="runs share a commit on PostgreSQL only"
    )
    def test_runs_sharing_a_commit_each_start_the_changes_they_made_at_their_own_hop(
        self, project, patients, eager_celery
    ):
        on_records(project, patients, "updated", name="Watcher")
        deep, shallow = (
            records.add_record(patients, {"full_name": n}) for n in ("Deep", "Shallow")
        )
        update = {
            "module": "Patients",
            "criteria": [[{"field": "id", "op": "equals", "value": "{{ event.id }}"}]],
            "values": {"visits": "5"},
        }
        updater = build_connector(
            project, name="Updater", steps=[{"actions": [("record_update", update)]}]
        )
        # One task runs both events, in one transaction: a run at the last hop and one at
        # the first.
        events = [
            Event.objects.create(
                project=project,
                connector=updater,
                payload={"id": record.pk},
                method="POST",
                received_at=timezone.now(),
                hop_count=hop,
            )
            for record, hop in ((deep, MAX_ROUTING_HOPS - 1), (shallow, 0))
        ]

        engine.process_events([event.pk for event in events])

        assert set(Run.objects.filter(connector=updater).values_list("status", flat=True)) == {
            Run.Status.SUCCEEDED
        }
        started = Event.objects.filter(connector__name="Watcher")
        assert [(e.payload["record"]["full_name"], e.hop_count) for e in started] == [
            ("Shallow", 1)
        ]


@pytest.mark.integration
@requires_integration
@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_connectors_of_a_record_created_in_the_admin(project, patients):
    """PostgreSQL and Redis with a real worker: the change's event is handed to the broker
    once the write commits, and the worker's run adds the record the connector asks for."""
    purge_broker()
    add = {
        "module": "Patients",
        "values": {"full_name": "Follow-up of {{ event.record.full_name }}"},
    }
    on_records(
        project, patients, "created", actions=[("record_add", {**add, "skip_workflows": True})]
    )

    with running_worker():
        records.add_record(patients, {"full_name": "Asha"})
        wait_for(
            lambda: Run.objects.filter(status=Run.Status.SUCCEEDED).exists(),
            timeout=60,
            message="the record workflow's run",
        )

    names = sorted(r.data["full_name"] for r in Record.objects.filter(module=patients))
    assert names == ["Asha", "Follow-up of Asha"]
    assert Event.objects.get().hop_count == 0


@pytest.mark.django_db
class TestTriggerSettings:
    def test_the_trigger_travels_in_the_connector_json(self, project, patients):
        button = MacroButton.objects.create(module=patients, name="Discharge", fields=["visits"])
        on_update = on_records(project, patients, "updated")
        document = export_connector(on_update)
        assert document["trigger"] == {"type": "record_updated", "module": "Patients"}
        copy = import_connector(
            project,
            {**document, "trigger": {"type": "record_updated", "module": "patients"}},
            name="Copy",
        )
        assert (copy.trigger, copy.trigger_module) == ("record_updated", patients)

        on_macro = build_connector(
            project, name="Macro", trigger="macro_button", trigger_macro=button
        )
        document = export_connector(on_macro)
        assert document["trigger"] == {
            "type": "macro_button",
            "module": "Patients",
            "button": "Discharge",
        }
        copy = import_connector(project, document, name="Macro copy")
        assert (copy.trigger, copy.trigger_macro) == ("macro_button", button)

    @pytest.mark.parametrize(
        "trigger,path,words",
        [
            (
                {"type": "record_created"},
                "trigger.module",
                "is required for a record_created trigger",
            ),
            ({"type": "record_created", "module": "Patient"}, "trigger.module", "“Patient”"),
            (
                {"type": "record_created", "module": "Patients", "channel": "Sandbox"},
                "trigger.channel",
                "only an inbound_message trigger",
            ),
            (
                {"type": "macro_button", "module": "Patients"},
                "trigger.button",
                "is required for a macro_button trigger",
            ),
            (
                {"type": "macro_button", "module": "Patients", "button": "Admit"},
                "trigger.button",
                "Its macro buttons: Discharge.",
            ),
            ({"type": "webhook", "module": "Patients"}, "trigger.module", "only record_created"),
        ],
    )
    def test_import_refuses_a_record_trigger_it_cannot_honour(
        self, project, patients, trigger, path, words
    ):
        MacroButton.objects.create(module=patients, name="Discharge", fields=["visits"])
        document = {**export_connector(build_connector(project, name="Base")), "trigger": trigger}
        with pytest.raises(ConnectorImportError) as refused:
            import_connector(project, document, name="Copy")
        ((where, message),) = refused.value.errors
        assert where == path and words in message, message

    def test_the_admin_offers_the_projects_modules_and_requires_one(
        self, client, member, project, other_project, patients
    ):
        client.force_login(member)
        theirs = patients_of(other_project)
        connector = build_connector(project, name="Leads")
        url = f"/admin/connectors/connector/{connector.pk}/change/"
        page = client.get(url).content.decode()
        assert f'<option value="{patients.pk}">Patients</option>' in page
        assert f'<option value="{theirs.pk}">' not in page
        assert "event.record." in page  # the payload's help
        form = {
            "name": "Leads", "description": "", "enabled": "on", "field_mapping": "{}",
            "trigger": "record_created", "trigger_module": "",
            "steps-TOTAL_FORMS": "0", "steps-INITIAL_FORMS": "0",
            "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "1000",
        }  # fmt: skip
        refused = client.post(url, form)
        assert "Choose the module whose records start the connector." in refused.content.decode()
        assert client.post(url, {**form, "trigger_module": str(patients.pk)}).status_code == 302
        connector.refresh_from_db()
        assert (connector.trigger, connector.trigger_module) == ("record_created", patients)
        # Back to the URL only: the module goes with the trigger.
        assert (
            client.post(
                url, {**form, "trigger": "webhook", "trigger_module": str(patients.pk)}
            ).status_code
            == 302
        )
        connector.refresh_from_db()
        assert (connector.trigger, connector.trigger_module) == ("webhook", None)


def test_the_payload_help_names_what_templates_read():
    for path in (
        "event.record.",
        "event.before.",
        "event.change",
        "event.module.name",
        "event.contact.number",
    ):
        assert path in RECORD_PAYLOAD_HELP
