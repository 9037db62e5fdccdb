import pytest
from django.db import connection

from crm import services as crm
from crm.records.criteria import fields_by_key, order_records
from crm.records.services import add_record, records_matching, search_records, update_record
from crm.records.values import FIELD_TYPES, RecordError


@pytest.fixture
def rows(every_type, project, teammate):
    contact = crm.upsert_contact(project, "919847012345")
    made = [
        add_record(
            every_type,
            {
                "text": "Asha Rao",
                "long_text": "Wants a demo",
                "email": "asha@example.com",
                "phone": "919847012345",
                "url": "https://asha.example.com",
                "number": 10,
                "decimal": "10.50",
                "date": "2025-03-01",
                "datetime": "2025-03-01T10:00:00Z",
                "choice": "Red",
                "multi_choice": ["Red", "Green"],
                "boolean": True,
                "user": teammate.pk,
                "contact": contact.pk,
            },
        ),
        add_record(
            every_type,
            {
                "text": "Ben Ong",
                "email": "ben@example.org",
                "phone": "6591234567",
                "number": 2.5,
                "decimal": "9.99",
                "date": "2025-04-15",
                "datetime": "2025-04-15T08:00:00Z",
                "choice": "Blue",
                "multi_choice": ["Blue"],
                "boolean": False,
            },
        ),
        add_record(every_type, {"text": "Chen", "number": 100, "decimal": "100"}),
    ]
    return dict(zip(["asha", "ben", "chen"], made, strict=True))


def found(module, *conditions, any_of=None):
    criteria = [list(conditions)] if conditions else []
    criteria += [[condition] for condition in any_of or []]
    return {record.data.get("text") for record in search_records(module, criteria)}


def c(field, op, value=None, value2=None):
    return {"field": field, "op": op, "value": value, "value2": value2}


@pytest.mark.parametrize(
    "condition, names",
    [
        (c("text", "equals", "asha rao"), {"Asha Rao"}),
        (c("text", "not_equals", "ASHA RAO"), {"Ben Ong", "Chen"}),
        (c("text", "contains", "ON"), {"Ben Ong"}),
        (c("text", "not_contains", "a"), {"Ben Ong", "Chen"}),
        (c("text", "starts_with", "ch"), {"Chen"}),
        (c("text", "ends_with", "rao"), {"Asha Rao"}),
        (c("text", "in_list", "chen, ben ong"), {"Chen", "Ben Ong"}),
        (c("text", "not_in_list", ["Chen"]), {"Asha Rao", "Ben Ong"}),
        (c("long_text", "contains", "DEMO"), {"Asha Rao"}),
        (c("long_text", "is_empty"), {"Ben Ong", "Chen"}),
        (c("email", "equals", "ASHA@example.com"), {"Asha Rao"}),
        (c("email", "ends_with", ".org"), {"Ben Ong"}),
        (c("phone", "equals", "+91 98470 12345"), {"Asha Rao"}),
        (c("phone", "contains", "9123"), {"Ben Ong"}),
        (c("url", "is_not_empty"), {"Asha Rao"}),
        (c("number", "equals", "10"), {"Asha Rao"}),
        (c("number", "gt", 2.5), {"Asha Rao", "Chen"}),
        (c("number", "gte", 2.5), {"Asha Rao", "Ben Ong", "Chen"}),
        (c("number", "lt", "10"), {"Ben Ong"}),
        (c("number", "lte", "10"), {"Asha Rao", "Ben Ong"}),
        (c("number", "between", 3, 100), {"Asha Rao", "Chen"}),
        (c("number", "in_list", "2.5, 100"), {"Ben Ong", "Chen"}),
        (c("number", "not_equals", 10), {"Ben Ong", "Chen"}),
        (c("decimal", "equals", "10.5"), {"Asha Rao"}),
        (c("decimal", "gt", "9.99"), {"Asha Rao", "Chen"}),
        (c("decimal", "between", "9.99", "10.50"), {"Asha Rao", "Ben Ong"}),
        (c("date", "equals", "2025-03-01"), {"Asha Rao"}),
        (c("date", "before", "2025-04-01"), {"Asha Rao"}),
        (c("date", "after", "1 April 2025"), {"Ben Ong"}),
        (c("date", "between", "2025-01-01", "2025-12-31"), {"Asha Rao", "Ben Ong"}),
        (c("date", "is_empty"), {"Chen"}),
        # 2025-03-01 15:30 in Kolkata is 10:00 UTC.
        (c("datetime", "equals", "2025-03-01 15:30"), {"Asha Rao"}),
        (c("datetime", "after", "2025-03-01T10:00:00Z"), {"Ben Ong"}),
        (c("datetime", "lte", "2025-03-01T10:00:00Z"), {"Asha Rao"}),
        (c("choice", "equals", "red"), {"Asha Rao"}),
        (c("choice", "in_list", "Red,Blue"), {"Asha Rao", "Ben Ong"}),
        (c("choice", "not_in_list", "Red"), {"Ben Ong"}),
        (c("choice", "is_empty"), {"Chen"}),
        (c("multi_choice", "contains", "green"), {"Asha Rao"}),
        (c("multi_choice", "not_contains", "Green"), {"Ben Ong"}),
        (c("multi_choice", "in_list", "Green, Blue"), {"Asha Rao", "Ben Ong"}),
        (c("boolean", "is_true"), {"Asha Rao"}),
        (c("boolean", "is_false"), {"Ben Ong"}),
        (c("boolean", "equals", "no"), {"Ben Ong"}),
        (c("user", "equals", "teammate"), {"Asha Rao"}),
        (c("user", "is_empty"), {"Ben Ong", "Chen"}),
        (c("contact", "is_not_empty"), {"Asha Rao"}),
        (c("name", "is_empty"), {"Asha Rao", "Ben Ong", "Chen"}),
    ],
)
def test_each_operator_finds_what_it_says(rows, every_type, condition, names):
    assert found(every_type, condition) == names
    # The record lists' queryset (values in the SQL) finds the same.
    listed = records_matching(every_type, [[condition]])
    assert {record.data.get("text") for record in listed} == names


@pytest.mark.parametrize(
    "first, then, names",
    [
        (c("text", "equals", "chen"), c("text", "equals", "asha rao"), {"Asha Rao"}),
        (c("choice", "equals", "Blue"), c("choice", "equals", "Red"), {"Asha Rao"}),
        (c("text", "contains", "ch"), c("text", "contains", "on"), {"Ben Ong"}),
        (c("text", "starts_with", "a"), c("text", "starts_with", "ch"), {"Chen"}),
        (c("number", "between", 50, 200), c("number", "between", 1, 20), {"Asha Rao", "Ben Ong"}),
        (c("number", "in_list", "10, 100"), c("number", "in_list", "2.5, 7"), {"Ben Ong"}),
        (c("decimal", "gt", "50"), c("decimal", "gt", "9.99"), {"Asha Rao", "Chen"}),
        (c("datetime", "after", "2025-04-01"), c("datetime", "before", "2025-04-01"), {"Asha Rao"}),
        (c("multi_choice", "contains", "Blue"), c("multi_choice", "contains", "Red"), {"Asha Rao"}),
        (c("boolean", "equals", "yes"), c("boolean", "equals", "no"), {"Ben Ong"}),
        (c("id", "in_list", "0"), c("id", "in_list", "0"), set()),
    ],
)
def test_a_search_of_a_shape_already_run_finds_its_own_values(rows, every_type, first, then, names):
    """The second search reuses the first one's statement with its own values."""
    found(every_type, first)
    assert found(every_type, then) == names


def test_searches_of_one_shape_share_a_statement_and_fill_owner_and_module(
    rows, every_type, teammate, django_assert_num_queries
):
    from crm.records import queries

    queries._statements.clear()
    update_record(rows["ben"], {"text": "Ben Ong"}, author=teammate)
    rows["ben"].owner = teammate
    rows["ben"].save(update_fields=["owner"])
    every_type.project  # noqa: B018 (loaded before counting)
    fields_by_key(every_type)
    search_records(every_type, [[c("text", "equals", "asha rao")]], sort="number", limit=5)
    with django_assert_num_queries(1):
        (ben,) = search_records(
            every_type, [[c("text", "equals", "ben ong")]], sort="number", limit=5
        )
        assert ben.owner == teammate
        assert ben.module is every_type
    assert len(queries._statements) == 1
    search_records(every_type, [[c("text", "equals", "ben ong")]], sort="number", limit=6)
    assert len(queries._statements) == 2


def test_conditions_and_within_a_group_or_between_groups(rows, every_type):
    assert found(every_type, c("number", "gt", 1), c("choice", "equals", "Blue")) == {"Ben Ong"}
    assert found(
        every_type, any_of=[c("choice", "equals", "Blue"), c("number", "equals", 100)]
    ) == {"Ben Ong", "Chen"}
    assert found(every_type) == {"Asha Rao", "Ben Ong", "Chen"}


def test_record_attributes_are_criteria_too(rows, every_type, teammate):
    asha = rows["asha"]
    assert found(every_type, c("id", "equals", str(asha.pk))) == {"Asha Rao"}
    assert found(every_type, c("id", "gt", asha.pk)) == {"Ben Ong", "Chen"}
    assert found(every_type, c("created_at", "before", "2000-01-01")) == set()
    assert found(every_type, c("owner", "is_empty")) == {"Asha Rao", "Ben Ong", "Chen"}


@pytest.mark.parametrize(
    "sort, descending, order",
    [
        ("number", False, ["Ben Ong", "Asha Rao", "Chen"]),
        ("number", True, ["Chen", "Asha Rao", "Ben Ong"]),
        ("decimal", False, ["Ben Ong", "Asha Rao", "Chen"]),
        ("text", True, ["Chen", "Ben Ong", "Asha Rao"]),
        # Records without a value: last ascending, first descending.
        ("date", False, ["Asha Rao", "Ben Ong", "Chen"]),
        ("date", True, ["Chen", "Ben Ong", "Asha Rao"]),
        ("id", True, ["Chen", "Ben Ong", "Asha Rao"]),
        (None, False, ["Asha Rao", "Ben Ong", "Chen"]),
    ],
)
def test_records_sort_on_any_field(rows, every_type, sort, descending, order):
    records = search_records(every_type, [], sort=sort, descending=descending)
    assert [record.data["text"] for record in records] == order


def test_limit_takes_the_first_in_sort_order(rows, every_type):
    records = search_records(every_type, [], sort="number", descending=True, limit=2)
    assert [record.data["text"] for record in records] == ["Chen", "Asha Rao"]


@pytest.mark.parametrize(
    "criteria, message",
    [
        ([[c("colour", "equals", "red")]], "Catalog has no field “colour”. Its fields: text"),
        ([[c("number", "starts_with", "1")]], "“Number” cannot be compared with “starts_with”"),
        ([[c("number", "equals", "ten")]], "Number: 'ten' is not a number."),
        ([[c("number", "equals", "")]], "“Number”: give a value to compare with."),
        ([[c("choice", "in_list", "")]], "“Choice”: list the values to look for."),
        ([c("text", "equals", "x")], "a list of groups"),
        ([["text"]], "Each condition needs a field"),
    ],
)
def test_bad_criteria_say_what_is_wrong(rows, every_type, criteria, message):
    with pytest.raises(RecordError) as caught:
        search_records(every_type, criteria)
    assert message in caught.value.message


def test_a_sort_on_an_unknown_field_is_refused(every_type):
    with pytest.raises(RecordError, match="no field “colour”"):
        order_records(records_matching(every_type), every_type, "colour", False)


def test_every_type_allows_empty_checks():
    for field_type in FIELD_TYPES.values():
        assert {"is_empty", "is_not_empty"} <= set(field_type.operators)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="GIN is PostgreSQL's")
def test_equality_on_postgresql_uses_containment_the_gin_index_serves(rows, every_type):
    query = str(records_matching(every_type, [[c("choice", "equals", "Red")]]).query)
    assert '"crm_record"."data" @>' in query


@pytest.mark.skipif(connection.vendor != "postgresql", reason="GIN is PostgreSQL's")
def test_an_indexed_field_narrows_its_group_and_the_other_equalities_filter(every_type):
    every_type.fields.filter(key="number").update(sortable=True)
    narrowed = [[c("number", "equals", 10), c("choice", "equals", "Red")]]
    query = str(records_matching(every_type, narrowed).query)
    assert "@>" not in query
    assert "->> choice) = (Red)" in query
    # Not equal to 10 is no narrowing: choice goes through the GIN index again.
    wide = [[c("number", "not_equals", 10), c("choice", "equals", "Red")]]
    assert "@>" in str(records_matching(every_type, wide).query)
