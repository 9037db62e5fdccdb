import threading

import pytest
from django.db import connection

from crm.models import Field, Module, Record, RecordEntry
from crm.records import indexes
from crm.records.services import (
    DELETE_BATCH,
    add_record,
    add_record_note,
    continue_deletion,
    delete_records,
    find_module,
    find_record,
    record_as_dict,
    search_records,
    timeline_of,
    unknown_module_message,
    update_record,
    update_records,
    upsert_record,
)
from crm.records.values import DuplicateError, RecordError
from crm.signals import record_changed
from crm.tasks import finish_record_deletion


@pytest.fixture
def deals(project):
    return project.modules.get(name="Deals")


@pytest.fixture
def heard():
    """The record_changed signals sent, as (change, record id, before's stage, after's stage)."""
    calls = []

    def listen(sender, module, record, before, change, **kwargs):
        calls.append((change, record["id"], (before or {}).get("stage"), record.get("stage")))

    record_changed.connect(listen, weak=False)
    yield calls
    record_changed.disconnect(listen)


def test_modules_are_found_by_name_whatever_the_case(project):
    assert find_module(project, " deals ").name == "Deals"
    assert find_module(project, "Deals", kind="storage") is None
    message = unknown_module_message(project, "Patients")
    assert message.startswith("There is no module “Patients”. Its modules: Company, Deals, Leads")


def test_adding_a_record_normalises_notes_the_timeline_and_signals_on_commit(
    deals, teammate, heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record = add_record(
            deals, {"title": "Big order", "amount": "1200.00", "stage": "proposal"}, owner=teammate
        )
    assert record.data == {"title": "Big order", "amount": "1200", "stage": "Proposal"}
    assert heard == [("created", record.pk, None, "Proposal")]
    as_dict = record_as_dict(record)
    assert as_dict["module"] == "Deals" and as_dict["owner"] == "teammate"
    assert as_dict["amount"] == "1200" and as_dict["id"] == record.pk
    (entry,) = timeline_of(record)
    assert entry.kind == "change" and entry.text == "Created"


def test_no_signal_when_workflows_are_not_triggered(
    deals, heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record = add_record(deals, {"title": "Quiet"}, trigger_workflows=False)
        update_record(record, {"stage": "Won"}, trigger_workflows=False)
        delete_records(deals, [], trigger_workflows=False)
    assert heard == []


def test_partial_data_is_refused_only_when_asked(deals):
    add_record(deals, {"amount": 5})
    with pytest.raises(RecordError) as caught:
        add_record(deals, {"amount": 5}, allow_partial=False)
    assert caught.value.errors == {"title": "Title: a value is required."}
    assert Record.objects.filter(module=deals).count() == 1


def test_updates_say_what_changed_before_and_after(
    deals, teammate, heard, django_capture_on_commit_callbacks
):
    record = add_record(deals, {"title": "Big order", "stage": "Proposal", "amount": 10})
    with django_capture_on_commit_callbacks(execute=True):
        assert update_record(record, {"stage": "Won", "amount": ""}, author=teammate)
        assert not update_record(record, {"stage": "won"})
    assert heard == [("updated", record.pk, "Proposal", "Won")]
    entry = timeline_of(record)[0]
    assert entry.text == "Amount: 10 → (empty); Stage: Proposal → Won"
    assert entry.author == teammate
    assert entry.data["changes"] == [
        {"field": "amount", "before": "10", "after": None},
        {"field": "stage", "before": "Proposal", "after": "Won"},
    ]
    add_record_note(record, "Called them", author=teammate)
    assert [e.kind for e in timeline_of(record)] == ["note", "change", "change"]


def test_update_by_criteria_with_limit_and_sort(deals):
    for amount in (1, 2, 3, 4):
        add_record(deals, {"title": f"D{amount}", "amount": amount, "stage": "Proposal"})
    criteria = [[{"field": "stage", "op": "equals", "value": "Proposal"}]]
    changed = update_records(
        deals, criteria, {"stage": "Won"}, limit=2, sort="amount", descending=True
    )
    assert changed == 2
    won = search_records(
        deals, [[{"field": "stage", "op": "equals", "value": "Won"}]], sort="amount"
    )
    assert [record.data["title"] for record in won] == ["D3", "D4"]
    assert update_records(deals, criteria, {"stage": "Won"}) == 2
    assert update_records(deals, criteria, {"stage": "Won"}) == 0
    with pytest.raises(RecordError, match="Stage: 'Lost it' is not one of its choices"):
        update_records(deals, [], {"stage": "Lost it"})


def test_find_record_says_which_module_lacks_it(deals):
    record = add_record(deals, {"title": "A"})
    assert find_record(deals, str(record.pk)) == record
    with pytest.raises(RecordError, match="Deals has no record 99999"):
        find_record(deals, 99999)
    with pytest.raises(RecordError, match=r"Deals has no record \(no id given\)"):
        find_record(deals, "")


def test_deleting_many_deletes_a_batch_and_queues_the_rest(
    deals, heard, django_capture_on_commit_callbacks, eager_celery
):
    Record.objects.bulk_create(
        Record(project_id=deals.project_id, module=deals, data={"title": f"D{n}", "amount": n})
        for n in range(DELETE_BATCH + 5)
    )
    keep = add_record(deals, {"title": "Keep", "amount": -1}, trigger_workflows=False)
    criteria = [[{"field": "amount", "op": "gte", "value": 0}]]
    with django_capture_on_commit_callbacks() as queued_callbacks:
        assert delete_records(deals, criteria) == (DELETE_BATCH, 5)
    assert Record.objects.filter(module=deals).count() == 6
    with django_capture_on_commit_callbacks(execute=True):
        for callback in queued_callbacks:
            callback()
    assert list(Record.objects.filter(module=deals)) == [keep]
    assert len([call for call in heard if call[0] == "deleted"]) == DELETE_BATCH + 5


def test_a_queued_deletion_stops_when_nothing_is_left(deals):
    add_record(deals, {"title": "One", "amount": 1})
    criteria = [[{"field": "amount", "op": "equals", "value": 1}]]
    assert continue_deletion(deals.pk, criteria, None, False, 10, False) == 0
    assert continue_deletion(deals.pk + 999, criteria, None, False, 10, False) == 0
    assert not Record.objects.filter(module=deals).exists()


def test_a_limited_deletion_deletes_the_first_in_sort_order(deals):
    for amount in (5, 1, 3):
        add_record(deals, {"title": f"D{amount}", "amount": amount})
    assert delete_records(deals, [], limit=2, sort="amount") == (2, 0)
    assert [r.data["amount"] for r in Record.objects.filter(module=deals)] == ["5"]


def test_the_deletion_task_finishes_the_rest(deals, eager_celery):
    Record.objects.bulk_create(
        Record(project_id=deals.project_id, module=deals, data={"amount": n}) for n in range(7)
    )
    finish_record_deletion.delay(deals.pk, [], "amount", False, 3, False)
    assert sorted(r.data["amount"] for r in Record.objects.filter(module=deals)) == [3, 4, 5, 6]


# Unique fields and their indexes (built on commit: transactional tests) -------------------


def unique_email(module, **flags):
    return Field.objects.create(
        module=module, key="work_email", label="Work e-mail", type="email", unique=True, **flags
    )


def index_names(field):
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, Record._meta.db_table)
    return {indexes.sort_index_name(field.pk), indexes.unique_index_name(field.pk)} & set(found)


@pytest.mark.django_db(transaction=True)
def test_a_unique_field_is_enforced_by_the_database(project):
    leads = project.modules.get(name="Leads")
    field = unique_email(leads)
    assert index_names(field) == {indexes.unique_index_name(field.pk)}
    first = add_record(leads, {"work_email": "Asha@Example.com"})
    with pytest.raises(DuplicateError) as caught:
        add_record(leads, {"work_email": "asha@example.COM"})
    assert caught.value.field == "work_email"
    assert caught.value.message == (
        "Work e-mail: another record of Leads already has asha@example.com."
    )
    other = add_record(leads, {"work_email": "ben@example.com"})
    with pytest.raises(DuplicateError, match="already has asha@example.com"):
        update_record(other, {"work_email": "asha@example.com"})
    with pytest.raises(DuplicateError):
        update_records(leads, [], {"work_email": "same@example.com"})
    # Records of another module, and records without a value, do not collide.
    add_record(project.modules.get(name="Deals"), {"title": "x"})
    add_record(leads, {})
    add_record(leads, {})
    assert Record.objects.filter(module=leads).count() == 4
    assert first.data["work_email"] == "asha@example.com"


@pytest.mark.django_db(transaction=True)
def test_field_indexes_follow_the_flags_and_go_with_the_field(project):
    leads = project.modules.get(name="Leads")
    field = Field.objects.create(module=leads, key="score", label="Score", type="number")
    assert index_names(field) == set()
    field.sortable = True
    field.save()
    assert index_names(field) == {indexes.sort_index_name(field.pk)}
    field.sortable, field.unique = False, True
    field.save()
    assert index_names(field) == {indexes.unique_index_name(field.pk)}
    field.delete()
    assert index_names(field) == set()


@pytest.mark.django_db(transaction=True)
def test_a_field_cannot_turn_unique_over_shared_values(project):
    leads = project.modules.get(name="Leads")
    for _ in range(2):
        add_record(leads, {"email": "same@example.com"})
    field = leads.fields.get(key="email")
    field.unique = True
    with pytest.raises(Exception, match=r"Several records share a value \(same@example.com\)"):
        field.full_clean()
    # Saved anyway (no form in between), the index cannot be built: the flag goes back.
    field.save()
    field.refresh_from_db()
    assert field.unique is False
    assert index_names(field) == set()


@pytest.mark.django_db(transaction=True)
def test_a_field_with_values_keeps_its_type(project):
    leads = project.modules.get(name="Leads")
    add_record(leads, {"company": "Acme"})
    field = leads.fields.get(key="company")
    field.type = "number"
    with pytest.raises(Exception, match="“company” has values in 1 record: its type"):
        field.full_clean()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="expression indexes of PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_postgresql_searches_and_sorts_a_sortable_field_through_its_index(project):
    leads = project.modules.get(name="Leads")
    field = Field.objects.create(
        module=leads, key="score", label="Score", type="number", sortable=True
    )
    Record.objects.bulk_create(
        Record(project_id=project.pk, module=leads, data={"score": n}) for n in range(2000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_record")
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s",
            [indexes.sort_index_name(field.pk)],
        )
        (definition,) = cursor.fetchone()
    assert f"WHERE (module_id = {leads.pk})" in definition
    from crm.records.services import records_matching

    queryset = records_matching(leads, [], sort="score", descending=True)[:5]
    plan = queryset.explain()
    assert indexes.sort_index_name(field.pk) in plan, plan
    assert [r.data["score"] for r in queryset] == [1999, 1998, 1997, 1996, 1995]


@pytest.mark.django_db(transaction=True)
def test_parallel_upserts_on_one_value_make_one_record(project):
    if connection.vendor != "postgresql":
        pytest.skip("parallel connections need PostgreSQL")
    leads = project.modules.get(name="Leads")
    unique_email(leads)
    results, failures = [], []
    barrier = threading.Barrier(4)

    def upsert(n):
        try:
            barrier.wait()
            record, created = upsert_record(
                leads, "work_email", {"work_email": "asha@example.com", "first_name": f"A{n}"}
            )
            results.append(created)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=upsert, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(results) == [False, False, False, True]
    assert Record.objects.filter(module=leads).count() == 1


def test_upsert_needs_a_unique_field(project):
    leads = project.modules.get(name="Leads")
    with pytest.raises(RecordError, match="“email” is not a unique field of Leads"):
        upsert_record(leads, "email", {"email": "a@example.com"})


@pytest.mark.django_db(transaction=True)
def test_upsert_updates_the_record_with_the_value(project):
    leads = project.modules.get(name="Leads")
    unique_email(leads)
    first, created = upsert_record(leads, "work_email", {"work_email": "A@example.com"})
    again, created_again = upsert_record(
        leads, "work_email", {"work_email": "a@EXAMPLE.com", "status": "Qualified"}
    )
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert Record.objects.get(pk=first.pk).data["status"] == "Qualified"
    with pytest.raises(RecordError, match="give the value to match records on"):
        upsert_record(leads, "work_email", {"status": "New"})


def test_module_records_are_gone_with_their_module(project):
    module = Module.objects.create(project=project, name="Patients")
    record = add_record(module, {})
    add_record_note(record, "hello")
    module.delete()
    assert not Record.objects.filter(pk=record.pk).exists()
    assert not RecordEntry.objects.filter(record_id=record.pk).exists()
