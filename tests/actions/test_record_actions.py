"""The module, funnel and data-storage actions (issue 21): records added, searched, updated
and deleted by a connector's run, funnels and data-storage rows written, every setting
checked on save and again at run with errors naming the field, and `storage.<table>.<row>`
read by templates at no cost to runs that do not read it."""

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext

from actions.registry import get_type
from connectors import engine, services
from connectors.admin.template_paths import scope_for, template_warnings
from connectors.models import Run, RunLog
from crm.models import Contact
from crm.records.models import Field, Funnel, FunnelMove, FunnelStage, Module, Record
from crm.signals import record_changed
from tests.builders import build_connector

pytestmark = pytest.mark.django_db


def run_actions(project, steps, payload=None, **connector_fields):
    """Run a connector of `steps` (a list of action lists, or of step specs) on `payload`,
    each action's config as saving it leaves it: (the run, its action log lines)."""
    specs = [step if isinstance(step, dict) else {"actions": step} for step in steps]
    for spec in specs:
        spec["actions"] = [(key, get_type(key).validate(config)) for key, config in spec["actions"]]
    name = f"Records {Run.objects.count() + 1}"
    connector = build_connector(project, name=name, steps=specs, **connector_fields)
    event = services.record_event(
        connector, payload or {}, method="POST", headers={}, source_ip=None
    )
    engine.process_event(event.pk)
    run = Run.objects.get(event=event)
    return run, list(run.logs.filter(kind=RunLog.Kind.ACTION).order_by("id"))


def refusal(key, config, project):
    """The errors, by setting, of saving `config` in `project`."""
    with pytest.raises(forms.ValidationError) as refused:
        get_type(key).validate(config, project=project)
    return refused.value.message_dict


@pytest.fixture
def patients(project):
    module = Module.objects.create(project=project, name="Patients")
    Field.objects.create(module=module, key="full_name", label="Full name", required=True)
    Field.objects.create(module=module, key="email", label="E-mail", type="email")
    Field.objects.create(module=module, key="visits", label="Visits", type="number", sortable=True)
    Field.objects.create(
        module=module, key="ward", label="Ward", type="choice", choices=["North", "South"]
    )
    return module


@pytest.fixture
def changes():
    """The record_changed signals sent, as (change, record id)."""
    sent = []

    def note(sender, record, change, **kwargs):
        sent.append((change, record["id"]))

    record_changed.connect(note)
    yield sent
    record_changed.disconnect(note)


def add_patient(module, name, visits, ward="North"):
    return Record.objects.create(
        project=module.project,
        module=module,
        data={"full_name": name, "visits": visits, "ward": ward},
    )


class TestRecordAdd:
    def test_adds_the_record_normalised_linked_to_the_contact_and_saves_it(
        self, project, patients, changes, django_capture_on_commit_callbacks
    ):
        config = {
            "module": "patients",
            "values": "full_name: {{ event.name }}\nemail: {{ event.email }}\n"
            "visits: {{ event.n }}",
            "link_contact": True,
            "save_as": "patient",
        }
        payload = {
            "name": "Asha",
            "email": "Asha@Clinic.Example",
            "n": "3",
            "phone": "+919847012345",
        }
        with django_capture_on_commit_callbacks(execute=True):
            run, logs = run_actions(
                project,
                [
                    [
                        ("record_add", config),
                        ("set_variable", {"name": "id", "value": "{{ vars.patient.id }}"}),
                    ]
                ],
                payload,
                field_mapping={"number": "{{ event.phone }}"},
            )

        assert run.status == Run.Status.SUCCEEDED, [log.error for log in logs]
        record = Record.objects.get(module=patients)
        assert record.data == {"full_name": "Asha", "email": "asha@clinic.example", "visits": 3}
        assert record.contact == Contact.objects.get(number="919847012345")
        saved = run.context["vars"]["patient"]
        assert (saved["id"], saved["email"], saved["visits"]) == (
            record.pk,
            "asha@clinic.example",
            3,
        )
        assert run.context["vars"]["id"] == record.pk
        assert changes == [("created", record.pk)]

    def test_refuses_on_save_an_unknown_module_or_field_naming_them(self, project, patients):
        errors = refusal("record_add", {"module": "Patient", "values": {"full_name": "A"}}, project)
        assert list(errors) == ["module"]
        assert "Patient" in errors["module"][0] and "Patients" in errors["module"][0]

        errors = refusal(
            "record_add", {"module": "Patients", "values": {"fullname": "A", "age": "3"}}, project
        )
        assert errors == {
            "values": [
                "Patients has no fields 'fullname', 'age'. "
                "Its fields: full_name, email, visits, ward."
            ]
        }

    def test_a_template_module_is_checked_when_the_action_runs(self, project, patients):
        config = {"module": "{{ event.module }}", "values": {"full_name": "Asha"}}
        saved = get_type("record_add").validate(config, project=project)
        assert (saved["module"], saved["values"]) == ("{{ event.module }}", {"full_name": "Asha"})

        run, (log,) = run_actions(project, [[("record_add", config)]], {"module": "Patiens"})

        assert (run.status, log.status) == (Run.Status.FAILED, RunLog.Status.FAILED)
        assert "Patiens" in log.error and "Patients" in log.error
        assert not Record.objects.filter(module=patients).exists()

    def test_with_partial_data_refused_nothing_is_saved_and_the_missing_fields_are_named(
        self, project, patients
    ):
        config = {
            "module": "Patients",
            "values": {"full_name": "{{ event.name }}", "visits": "2"},
            "only_complete": True,
        }

        run, (log,) = run_actions(project, [[("record_add", config)]], {})

        assert log.status == RunLog.Status.FAILED
        assert "Full name" in log.error or "full_name" in log.error
        assert not Record.objects.filter(module=patients).exists()

        # Without the box, the record is kept without the value.
        config["only_complete"] = False
        run, (log,) = run_actions(project, [[("record_add", config)]], {})
        assert log.status == RunLog.Status.RAN, log.error
        assert Record.objects.get(module=patients).data == {"visits": 2}

    def test_a_value_of_the_wrong_type_fails_naming_the_field_and_the_value(
        self, project, patients
    ):
        config = {"module": "Patients", "values": {"full_name": "Asha", "visits": "{{ event.n }}"}}

        run, (log,) = run_actions(project, [[("record_add", config)]], {"n": "many"})

        assert log.status == RunLog.Status.FAILED
        assert "Visits" in log.error and "many" in log.error
        assert not Record.objects.filter(module=patients).exists()

    def test_dont_trigger_workflows_sends_no_record_change(
        self, project, patients, changes, django_capture_on_commit_callbacks
    ):
        config = {"module": "Patients", "values": {"full_name": "Asha"}, "skip_workflows": True}
        with django_capture_on_commit_callbacks(execute=True):
            run, _ = run_actions(project, [[("record_add", config)]])
        assert run.status == Run.Status.SUCCEEDED
        assert Record.objects.filter(module=patients).count() == 1
        assert changes == []


class TestRecordSearch:
    def test_finds_sorts_and_limits_and_the_iterator_walks_the_records(self, project, patients):
        for name, visits, ward in [
            ("Asha", 3, "North"),
            ("Ravi", 9, "North"),
            ("Mini", 5, "South"),
            ("Joy", 7, "North"),
        ]:
            add_patient(patients, name, visits, ward)
        search = {
            "module": "Patients",
            "criteria": [[{"field": "visits", "op": "gte", "value": "{{ event.least }}"}]],
            "sort": "visits",
            "order": "descending",
            "limit": 2,
            "save_as": "found",
        }
        steps = [
            [("record_search", search)],
            {
                "iterator": {"path": "vars.found.records"},
                "actions": [("set_variable", {"name": "last", "value": "{{ item.full_name }}"})],
            },
        ]

        run, logs = run_actions(project, steps, {"least": 5})

        assert run.status == Run.Status.SUCCEEDED, [log.error for log in logs]
        found = run.context["vars"]["found"]
        assert found["count"] == 2
        assert [record["full_name"] for record in found["records"]] == ["Ravi", "Joy"]
        assert [log.iteration for log in logs[1:]] == [0, 1]
        assert run.context["vars"]["last"] == "Joy"

    def test_refuses_on_save_an_unknown_field_or_an_operator_its_type_does_not_take(
        self, project, patients
    ):
        errors = refusal(
            "record_search",
            {"module": "Patients", "criteria": [[{"field": "age", "op": "gt", "value": "3"}]]},
            project,
        )
        assert list(errors) == ["criteria"]
        assert "age" in errors["criteria"][0] and "visits" in errors["criteria"][0]

        errors = refusal(
            "record_search",
            {
                "module": "Patients",
                "criteria": [[{"field": "visits", "op": "starts_with", "value": "3"}]],
            },
            project,
        )
        assert list(errors) == ["criteria"]
        assert "Visits" in errors["criteria"][0] and "starts_with" in errors["criteria"][0]

        errors = refusal("record_search", {"module": "Patients", "sort": "height"}, project)
        assert list(errors) == ["sort"]

    def test_a_criterion_value_of_the_wrong_type_fails_at_run_naming_it(self, project, patients):
        search = {
            "module": "Patients",
            "criteria": [[{"field": "visits", "op": "gt", "value": "{{ event.n }}"}]],
        }
        run, (log,) = run_actions(project, [[("record_search", search)]], {"n": "lots"})
        assert log.status == RunLog.Status.FAILED
        assert "Visits" in log.error and "lots" in log.error


class TestRecordUpdateAndDelete:
    def test_updates_the_matching_records_and_says_how_many(
        self, project, patients, changes, django_capture_on_commit_callbacks
    ):
        asha, ravi, mini = (
            add_patient(patients, n, v) for n, v in [("Asha", 1), ("Ravi", 2), ("Mini", 8)]
        )
        update = {
            "module": "Patients",
            "criteria": [[{"field": "visits", "op": "lt", "value": "5"}]],
            "values": "ward: South",
            "save_as": "updated",
        }
        with django_capture_on_commit_callbacks(execute=True):
            run, logs = run_actions(project, [[("record_update", update)]])

        assert run.status == Run.Status.SUCCEEDED, [log.error for log in logs]
        assert run.context["vars"]["updated"] == {"count": 2}
        wards = {
            r.data["full_name"]: r.data["ward"] for r in Record.objects.filter(module=patients)
        }
        assert wards == {"Asha": "South", "Ravi": "South", "Mini": "North"}
        assert sorted(changes) == [("updated", asha.pk), ("updated", ravi.pk)]

        changes.clear()
        with django_capture_on_commit_callbacks(execute=True):
            run_actions(
                project,
                [[("record_update", {**update, "values": "ward: North", "skip_workflows": True})]],
            )
        assert changes == []
        assert mini.pk  # untouched throughout

    def test_update_refuses_an_unknown_field_to_set_and_needs_criteria(self, project, patients):
        errors = refusal(
            "record_update",
            {"module": "Patients", "values": {"room": "4"}},
            project,
        )
        assert set(errors) == {"criteria", "values"}
        assert "room" in errors["values"][0]

    def test_deletes_the_matching_records_and_says_how_many(self, project, patients):
        for name, visits in [("Asha", 1), ("Ravi", 2), ("Mini", 8)]:
            add_patient(patients, name, visits)
        delete = {
            "module": "Patients",
            "criteria": [[{"field": "visits", "op": "between", "value": "1", "value2": "2"}]],
            "save_as": "gone",
        }

        run, logs = run_actions(project, [[("record_delete", delete)]])

        assert run.status == Run.Status.SUCCEEDED, [log.error for log in logs]
        assert run.context["vars"]["gone"] == {"deleted": 2, "queued": 0}
        assert [r.data["full_name"] for r in Record.objects.filter(module=patients)] == ["Mini"]

    def test_a_simulation_runs_them_for_real_and_keeps_nothing(self, project, patients):
        add_patient(patients, "Asha", 1)
        connector = build_connector(
            project,
            steps=[
                {
                    "actions": [
                        ("record_add", {"module": "Patients", "values": {"full_name": "Ravi"}}),
                        (
                            "record_delete",
                            {
                                "module": "Patients",
                                "criteria": [
                                    [{"field": "full_name", "op": "equals", "value": "asha"}]
                                ],
                                "save_as": "gone",
                            },
                        ),
                    ]
                }
            ],
        )

        simulation = engine.simulate(connector, {})

        assert simulation.status == Run.Status.SUCCEEDED, simulation.error
        assert simulation.context["vars"]["gone"] == {"deleted": 1, "queued": 0}
        assert [r.data["full_name"] for r in Record.objects.filter(module=patients)] == ["Asha"]


@pytest.fixture
def pipeline(patients):
    funnel = Funnel.objects.create(module=patients, name="Follow-up")
    for position, name in enumerate(["Booked", "Seen", "Discharged"]):
        FunnelStage.objects.create(funnel=funnel, name=name, position=position)
    return funnel


class TestFunnels:
    def test_adds_moves_and_removes_a_record_with_its_history(self, project, patients, pipeline):
        asha = add_patient(patients, "Asha", 1)
        add = {"funnel": "follow-up", "stage": "{{ event.stage }}", "record": "{{ event.id }}"}

        run, logs = run_actions(
            project, [[("funnel_add", add)]], {"stage": "Booked", "id": asha.pk}
        )
        assert run.status == Run.Status.SUCCEEDED, [log.error for log in logs]
        run_actions(project, [[("funnel_add", add)]], {"stage": "seen", "id": asha.pk})
        # Already in the funnel: left where it is.
        kept = {**add, "unless_present": True}
        run, logs = run_actions(
            project, [[("funnel_add", kept)]], {"stage": "Discharged", "id": asha.pk}
        )
        assert run.status == Run.Status.SUCCEEDED, [log.error for log in logs]
        assert asha.placements.get().stage.name == "Seen"

        run, logs = run_actions(
            project, [[("funnel_remove", {"funnel": "Follow-up", "record": str(asha.pk)})]]
        )
        assert run.status == Run.Status.SUCCEEDED, [log.error for log in logs]
        assert not asha.placements.exists()
        moves = [
            (move.from_stage and move.from_stage.name, move.to_stage and move.to_stage.name)
            for move in FunnelMove.objects.filter(record=asha).order_by("id")
        ]
        assert moves == [(None, "Booked"), ("Booked", "Seen"), ("Seen", None)]

    def test_refuses_an_unknown_funnel_or_stage_on_save_and_a_bad_record_at_run(
        self, project, patients, pipeline
    ):
        errors = refusal("funnel_add", {"funnel": "Sales", "stage": "Won", "record": "1"}, project)
        assert list(errors) == ["funnel"]
        errors = refusal(
            "funnel_add", {"funnel": "Follow-up", "stage": "Won", "record": "1"}, project
        )
        assert errors == {
            "stage": ["Follow-up has no stage “Won”. Its stages: Booked, Seen, Discharged."]
        }

        add = {"funnel": "Follow-up", "stage": "Booked", "record": "{{ event.id }}"}
        run, (log,) = run_actions(project, [[("funnel_add", add)]], {"id": "abc"})
        assert log.status == RunLog.Status.FAILED and "'abc'" in log.error
        run, (log,) = run_actions(project, [[("funnel_add", add)]], {"id": 999999})
        assert log.status == RunLog.Status.FAILED and "999999" in log.error


@pytest.fixture
def prices(project):
    table = Module.objects.create(project=project, name="Prices", kind=Module.Kind.STORAGE)
    Field.objects.create(module=table, key="price", label="Price", type="number")
    Field.objects.create(module=table, key="currency", label="Currency")
    return table


class TestDataStorage:
    def test_rows_are_created_updated_emptied_and_deleted(self, project, prices):
        steps = [
            [
                (
                    "row_create",
                    {
                        "table": "prices",
                        "row": "{{ event.sku }}",
                        "values": "price: 100\ncurrency: INR",
                    },
                )
            ],
            [
                (
                    "row_update",
                    {
                        "table": "Prices",
                        "row": "{{ event.sku }}",
                        "values": {"price": "{{ event.price }}"},
                        "save_as": "row",
                    },
                )
            ],
        ]

        run, logs = run_actions(project, steps, {"sku": "gold", "price": 120})

        assert run.status == Run.Status.SUCCEEDED, [log.error for log in logs]
        assert Record.objects.get(module=prices, name="gold").data == {
            "price": 120,
            "currency": "INR",
        }
        assert run.context["vars"]["row"] == {
            "table": "Prices",
            "row": "gold",
            "values": {"price": 120, "currency": "INR"},
        }

        run, logs = run_actions(project, [[("row_empty", {"table": "Prices", "row": "gold"})]])
        assert run.status == Run.Status.SUCCEEDED, [log.error for log in logs]
        assert Record.objects.get(module=prices, name="gold").data == {}
        run, logs = run_actions(project, [[("row_delete", {"table": "Prices", "row": "gold"})]])
        assert run.status == Run.Status.SUCCEEDED, [log.error for log in logs]
        assert not Record.objects.filter(module=prices).exists()

    def test_refuses_an_unknown_table_or_field(self, project, prices, patients):
        errors = refusal(
            "row_create", {"table": "Patients", "row": "x", "values": {"price": 1}}, project
        )
        assert list(errors) == ["table"]
        errors = refusal(
            "row_update", {"table": "Prices", "row": "x", "values": {"cost": 1}}, project
        )
        assert errors == {"values": ["Prices has no field 'cost'. Its fields: price, currency."]}

    def test_templates_read_rows_and_see_the_runs_own_writes(self, project, prices):
        Record.objects.create(project=project, module=prices, name="gold", data={"price": 100})
        Record.objects.create(project=project, module=prices, name="silver", data={"price": 50})
        steps = [
            [("set_variable", {"name": "before", "value": "{{ storage.Prices.gold.price }}"})],
            [("set_variable", {"name": "quoted", "value": '{{ storage."Prices".silver.price }}'})],
            [("row_update", {"table": "prices", "row": "gold", "values": {"price": "130"}})],
            [("set_variable", {"name": "after", "value": "{{ storage.Prices.gold.price }}"})],
            [("set_variable", {"name": "missing", "value": "[{{ storage.Prices.bronze.price }}]"})],
        ]

        run, logs = run_actions(project, steps)

        assert run.status == Run.Status.SUCCEEDED, [log.error for log in logs]
        assert run.context["vars"] == {"before": 100, "quoted": 50, "after": 130, "missing": "[]"}

    def test_a_run_that_reads_no_storage_makes_no_query_for_it(self, project, prices):
        Record.objects.create(project=project, module=prices, name="gold", data={"price": 100})
        table = connection.ops.quote_name(Record._meta.db_table)
        for template, reads in [
            ("{{ event.sku }}", False),
            ("{{ storage.Prices.gold.price }}", True),
        ]:
            connector = build_connector(
                project,
                name=template,
                steps=[{"actions": [("set_variable", {"name": "v", "value": template})]}],
            )
            event = services.record_event(
                connector, {"sku": "gold"}, method="POST", headers={}, source_ip=None
            )
            with CaptureQueriesContext(connection) as queries:
                engine.process_event(event.pk)
            record_queries = [q["sql"] for q in queries.captured_queries if table in q["sql"]]
            assert len(record_queries) == (1 if reads else 0), record_queries
            assert Run.objects.get(event=event).context["vars"]["v"] == (
                "gold" if not reads else 100
            )

    def test_the_builder_takes_storage_paths_without_a_warning(self, project, prices):
        scope = scope_for(build_connector(project, name="Quotes"))
        assert template_warnings("{{ storage.Prices.silver.price }}", scope) == []
