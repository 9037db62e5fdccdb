import pytest

from crm import services as crm
from crm.models import Field, Module, Record
from crm.records.services import clean_values
from crm.records.values import FIELD_TYPES, RecordError


def test_every_field_type_has_its_class():
    assert set(FIELD_TYPES) == set(Field.Type.values)


@pytest.mark.parametrize(
    "key, raw, stored",
    [
        ("text", "  Asha  ", "Asha"),
        ("long_text", "line one\nline two", "line one\nline two"),
        ("email", " Asha@Example.COM ", "asha@example.com"),
        ("phone", "+91 98470-12345", "919847012345"),
        ("url", "https://example.com/a", "https://example.com/a"),
        ("number", "1,234", 1234),
        ("number", 12.5, 12.5),
        ("number", "7.0", 7),
        ("decimal", "1234.50", "1234.5"),
        ("decimal", 0.1, "0.1"),
        ("decimal", "-0.00", "0"),
        ("date", "2025-03-20", "2025-03-20"),
        ("date", "March 20, 2025", "2025-03-20"),
        # Naive times are the project's (Asia/Kolkata, +05:30); kept in UTC.
        ("datetime", "2025-03-20 12:00", "2025-03-20T06:30:00Z"),
        ("datetime", "2025-03-20T06:30:00+00:00", "2025-03-20T06:30:00Z"),
        ("datetime", 1742452200, "2025-03-20T06:30:00Z"),
        ("choice", "green", "Green"),
        ("multi_choice", "blue, red", ["Red", "Blue"]),
        ("multi_choice", ["Blue", "blue"], ["Blue"]),
        ("boolean", "yes", True),
        ("boolean", False, False),
        ("boolean", "0", False),
    ],
)
def test_values_are_normalised_on_write(every_type, key, raw, stored):
    assert clean_values(every_type, {key: raw}, partial=True) == {key: stored}


@pytest.mark.parametrize(
    "key, raw, message",
    [
        ("text", ["a"], "expected text"),
        ("text", "x" * 1001, "at most 1,000 characters"),
        ("email", "asha@", "not an e-mail address"),
        ("phone", "12345", "not a WhatsApp number"),
        ("url", "ftp://example.com", "not a web address"),
        ("url", "javascript:alert(1)", "not a web address"),
        ("number", "twelve", "not a number"),
        ("number", True, "not a number"),
        ("number", "NaN", "not a number"),
        ("decimal", "1e", "not a number"),
        ("date", "someday", "Cannot read 'someday' as a date"),
        ("datetime", "31/31/2025", "Cannot read"),
        ("choice", "Purple", "not one of its choices: Red, Green, Blue"),
        ("multi_choice", "Red, Purple", "'Purple' is not one of its choices"),
        ("multi_choice", 5, "expected a list of choices"),
        ("boolean", "maybe", "not yes or no"),
        ("user", "nobody", "No member of project 'acme' is called 'nobody'"),
        ("user", "999999", "is not a member of the project"),
        ("relation", "abc", "is not the id of a record"),
        ("relation", "999999", "Company has no record 999999"),
        ("contact", "999999", "the project has no contact 999999"),
    ],
)
def test_a_wrong_value_is_refused_naming_the_field(every_type, key, raw, message):
    with pytest.raises(RecordError) as caught:
        clean_values(every_type, {key: raw}, partial=True)
    assert caught.value.field == key
    label = key.replace("_", " ").capitalize()
    assert caught.value.message.startswith(f"{label}: ")
    assert message in caught.value.message


def test_references_take_ids_of_the_project_only(every_type, project, other_project, teammate):
    company = Record.objects.create(
        project=project, module=project.modules.get(name="Company"), data={}
    )
    contact = crm.upsert_contact(project, "919847012345")
    values = {"user": "teammate", "relation": str(company.pk), "contact": contact.pk}
    assert clean_values(every_type, values, partial=True) == {
        "user": teammate.pk,
        "relation": company.pk,
        "contact": contact.pk,
    }
    assert clean_values(every_type, {"user": teammate.pk}, partial=True) == {"user": teammate.pk}
    stranger = crm.upsert_contact(other_project, "919847012346")
    elsewhere = Record.objects.create(
        project=other_project, module=other_project.modules.get(name="Company"), data={}
    )
    with pytest.raises(RecordError, match="no contact"):
        clean_values(every_type, {"contact": stranger.pk}, partial=True)
    with pytest.raises(RecordError, match="Company has no record"):
        clean_values(every_type, {"relation": elsewhere.pk}, partial=True)


def test_empty_values_empty_the_field_and_unknown_or_missing_fields_are_named(project):
    deals = Module.objects.get(project=project, name="Deals")
    assert clean_values(deals, {"title": "", "amount": None}, partial=True) == {
        "title": None,
        "amount": None,
    }
    with pytest.raises(RecordError) as caught:
        clean_values(deals, {"colour": "red", "amount": "lots"}, partial=False)
    assert caught.value.errors == {
        "colour": "Deals has no field “colour”.",
        "amount": "Amount: 'lots' is not a number.",
        "title": "Title: a value is required.",
    }
