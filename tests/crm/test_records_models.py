import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from crm.models import Field, MacroButton, Module, Record
from crm.records.prebuilt import PREBUILT_MODULES, create_prebuilt_modules


def test_a_new_project_gets_the_prebuilt_modules(project):
    modules = {module.name: module for module in project.modules.all()}
    assert set(modules) == {"Leads", "Deals", "Meetings", "Company", "Support Cases"}
    assert all(module.prebuilt and module.kind == "module" for module in modules.values())
    company = Field.objects.get(module=modules["Deals"], key="company")
    assert (company.type, company.related_module) == ("relation", modules["Company"])
    stage = Field.objects.get(module=modules["Deals"], key="stage")
    assert "Won" in stage.choices
    for field in Field.objects.filter(module__project=project):
        field.full_clean()  # every prebuilt field is one a user could have saved


def test_the_data_migration_gives_what_is_missing_and_nothing_twice(project):
    project.modules.filter(name__in=["Deals", "Company"]).delete()
    create_prebuilt_modules(project, Module, Field)
    create_prebuilt_modules(project, Module, Field)
    assert project.modules.count() == len(PREBUILT_MODULES)
    deals = project.modules.get(name="Deals")
    assert deals.fields.get(key="company").related_module == project.modules.get(name="Company")


def test_module_names_are_unique_per_project_and_kind_whatever_the_case(project, other_project):
    with pytest.raises(ValidationError, match="already has a module with this name"):
        Module(project=project, name="leads").full_clean()
    Module(project=project, name="leads", kind="storage").full_clean()
    Module(project=other_project, name="Patients").full_clean()
    with transaction.atomic(), pytest.raises(IntegrityError):
        Module.objects.create(project=project, name="LEADS")


@pytest.mark.parametrize(
    "values, field, message",
    [
        ({"key": "name"}, "key", "record attribute already"),
        ({"key": "Deal Value"}, "key", "lower-case letters"),
        ({"type": "choice"}, "choices", "needs a list of choices"),
        ({"type": "choice", "choices": ["A", " "]}, "choices", "non-empty text"),
        ({"type": "text", "choices": ["A"]}, "choices", "Only choice"),
        ({"type": "relation"}, "related_module", "needs the module it points to"),
        ({"type": "multi_choice", "choices": ["A"], "unique": True}, "unique", "cannot be unique"),
    ],
)
def test_a_bad_field_says_what_is_wrong(project, values, field, message):
    leads = project.modules.get(name="Leads")
    candidate = Field(module=leads, label="X", **{"key": "x", **values})
    with pytest.raises(ValidationError) as caught:
        candidate.full_clean()
    assert message in " ".join(caught.value.message_dict[field])


def test_a_relation_points_into_the_same_project(project, other_project):
    leads = project.modules.get(name="Leads")
    elsewhere = other_project.modules.get(name="Company")
    field = Field(module=leads, key="employer", label="Employer", type="relation")
    field.related_module = elsewhere
    with pytest.raises(ValidationError, match="same project"):
        field.full_clean()


def test_a_macro_button_shows_fields_of_its_module(project):
    deals = project.modules.get(name="Deals")
    MacroButton(module=deals, name="Won", fields=["stage", "amount"]).full_clean()
    with pytest.raises(ValidationError, match="Deals has no field colour"):
        MacroButton(module=deals, name="Paint", fields=["colour"]).full_clean()


def test_row_names_are_unique_in_a_table_and_module_records_have_none(project):
    table = Module.objects.create(project=project, name="Prices", kind="storage")
    Record.objects.create(project=project, module=table, name="gold")
    with transaction.atomic(), pytest.raises(IntegrityError):
        Record.objects.create(project=project, module=table, name="gold")
    leads = project.modules.get(name="Leads")
    Record.objects.create(project=project, module=leads)
    Record.objects.create(project=project, module=leads)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="GIN is PostgreSQL's")
def test_record_data_has_a_gin_index_on_postgresql(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'record_data_gin'")
        (definition,) = cursor.fetchone()
    assert "gin (data jsonb_path_ops)" in definition


def test_a_module_a_relation_points_to_is_not_deleted_alone_but_goes_with_its_project(project):
    from django.db.models import RestrictedError

    with pytest.raises(RestrictedError):
        project.modules.get(name="Company").delete()
    project.delete()
    assert not Module.objects.exists()
