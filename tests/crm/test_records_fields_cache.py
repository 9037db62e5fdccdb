"""Each process keeps a module's fields by the module's fields revision
(crm/records/criteria.py): a search on a module it knows reads no field, and a field
added, changed or deleted is seen by the next search."""

import pytest
from django.db.models import F

from crm.models import Field, Module
from crm.records.criteria import fields_by_key
from crm.records.services import add_record, search_records
from crm.records.values import RecordError

pytestmark = pytest.mark.django_db


@pytest.fixture
def leads(project):
    module = Module.objects.create(project=project, name="Cached leads")
    Field.objects.create(
        module=module, key="stage", label="Stage", type="choice", choices=["New", "Won"]
    )
    add_record(module, {"stage": "Won"})
    return Module.objects.get(pk=module.pk)


def stage_is(value):
    return [[{"field": "stage", "op": "equals", "value": value}]]


def test_a_known_module_is_searched_in_one_query(leads, django_assert_num_queries):
    search_records(leads, stage_is("Won"))
    with django_assert_num_queries(1):
        assert len(search_records(leads, stage_is("won"))) == 1


def test_a_field_added_is_seen_by_the_next_search(leads):
    with pytest.raises(RecordError, match="no field “city”"):
        search_records(leads, [[{"field": "city", "op": "equals", "value": "Pune"}]])
    Field.objects.create(module=leads, key="city", label="City", type="text")
    add_record(leads, {"stage": "New", "city": "Pune"})
    fresh = Module.objects.get(pk=leads.pk)
    for module in (leads, fresh):
        found = search_records(module, [[{"field": "city", "op": "equals", "value": "pune"}]])
        assert [record.data["stage"] for record in found] == ["New"]


def test_a_field_changed_or_deleted_is_seen_by_the_next_search(leads):
    with pytest.raises(RecordError, match="Stage"):
        search_records(leads, stage_is("Lost"))
    stage = leads.fields.get(key="stage")
    stage.choices = ["New", "Won", "Lost"]
    stage.save()
    add_record(leads, {"stage": "Lost"})
    assert len(search_records(leads, stage_is("lost"))) == 1
    stage.delete()
    with pytest.raises(RecordError, match="no field “stage”"):
        search_records(Module.objects.get(pk=leads.pk), stage_is("Won"))


def test_a_change_made_by_another_process_is_seen_on_the_next_load(leads):
    assert fields_by_key(leads)["stage"].label == "Stage"
    # What another process's save leaves in the database: the field and a raised
    # revision, with this process's entry still in place.
    Field.objects.filter(module=leads, key="stage").update(label="Phase")
    assert fields_by_key(Module.objects.get(pk=leads.pk))["stage"].label == "Stage"
    Module.objects.filter(pk=leads.pk).update(fields_revision=F("fields_revision") + 1)
    assert fields_by_key(Module.objects.get(pk=leads.pk))["stage"].label == "Phase"


def test_the_fields_given_are_the_callers_own(leads):
    fields_by_key(leads).pop("stage")
    assert list(fields_by_key(leads)) == ["stage"]
