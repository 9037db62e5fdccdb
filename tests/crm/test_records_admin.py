"""The record store's admin pages with Django's test client: building a module without
JSON, the record list (columns, filter bar, sort, CSV export), the record form, the CSV
import, the funnel board, and another project's modules never shown."""

import csv
import io

import pytest

from crm.models import Field, Funnel, MacroButton, Module, Record, RecordEntry
from crm.records import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def patients(project):
    module = Module.objects.create(project=project, name="Patients")
    specs = [
        ("name_field", "Name", "text", {"required": True, "sortable": True}),
        ("email", "E-mail", "email", {"unique": True}),
        ("age", "Age", "number", {"sortable": True}),
        ("ward", "Ward", "choice", {"choices": ["North", "South"]}),
        ("admitted", "Admitted", "date", {}),
        ("insured", "Insured", "boolean", {}),
    ]
    for position, (key, label, type_, options) in enumerate(specs):
        Field.objects.create(
            module=module, key=key, label=label, type=type_, position=position, **options
        )
    return module


def add(module, **values):
    return services.add_record(module, values)


def listed_ids(response):
    return [record.pk for record in response.context["cl"].result_list]


def inline_management(prefix, total, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


# Building a module -------------------------------------------------------------------


def test_a_module_is_built_with_fields_keys_from_labels_and_choices_per_line(logged_in, project):
    form = {
        "project": project.pk,
        "name": "Patients",
        "kind": "module",
        "agent_access": "read",
        **inline_management("fields", 3),
        "fields-0-label": "Name",
        "fields-0-type": "text",
        "fields-0-required": "on",
        "fields-0-position": "1",
        "fields-1-label": "Date of birth",
        "fields-1-type": "date",
        "fields-1-position": "2",
        "fields-2-label": "Blood group",
        "fields-2-type": "choice",
        "fields-2-choices": "A+\nB+\n\n O- \nA+",
        "fields-2-sortable": "on",
        "fields-2-position": "3",
        **inline_management("macro_buttons", 0),
        **inline_management("funnels", 1),
        "funnels-0-name": "Follow-up",
    }
    response = logged_in.post("/admin/crm/module/add/", form)
    assert response.status_code == 302, response.context["errors"]
    module = Module.objects.get(project=project, name="Patients")
    fields = list(module.fields.values_list("key", "type", "required", "choices"))
    assert fields == [
        ("name_field", "text", True, []),
        ("date_of_birth", "date", False, []),
        ("blood_group", "choice", False, ["A+", "B+", "O-"]),
    ]
    assert module.funnels.get().name == "Follow-up"


def test_the_module_page_reports_field_mistakes_by_the_field(logged_in, project):
    form = {
        "project": project.pk,
        "name": "Patients",
        "kind": "module",
        "agent_access": "read",
        **inline_management("fields", 2),
        "fields-0-label": "Ward",
        "fields-0-type": "choice",
        "fields-0-position": "1",
        "fields-1-label": "Doctor",
        "fields-1-type": "relation",
        "fields-1-position": "2",
        **inline_management("macro_buttons", 0),
        **inline_management("funnels", 0),
    }
    response = logged_in.post("/admin/crm/module/add/", form)
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.errors
    assert errors[0] == {"choices": ["A choice field needs a list of choices."]}
    assert errors[1] == {"related_module": ["A relation field needs the module it points to."]}
    assert not Module.objects.filter(name="Patients").exists()


def test_macro_buttons_choose_their_fields_by_checkboxes(logged_in, patients):
    page = logged_in.get(f"/admin/crm/module/{patients.pk}/change/").content.decode()
    assert 'type="checkbox" name="macro_buttons-__prefix__-fields" value="ward"' in page
    fields = patients.fields.all()
    form = {
        "name": "Patients",
        "agent_access": "read",
        **inline_management("fields", len(fields), len(fields)),
        **inline_management("macro_buttons", 1),
        "macro_buttons-0-name": "Discharge",
        "macro_buttons-0-fields": ["ward", "insured"],
        "macro_buttons-0-position": "1",
        **inline_management("funnels", 0),
    }
    for index, field in enumerate(fields):
        form.update(
            {
                f"fields-{index}-id": field.pk,
                f"fields-{index}-module": patients.pk,
                f"fields-{index}-label": field.label,
                f"fields-{index}-type": field.type,
                f"fields-{index}-choices": "\n".join(field.choices),
                f"fields-{index}-position": index + 1,
                **({f"fields-{index}-required": "on"} if field.required else {}),
                **({f"fields-{index}-unique": "on"} if field.unique else {}),
                **({f"fields-{index}-sortable": "on"} if field.sortable else {}),
            }
        )
    response = logged_in.post(f"/admin/crm/module/{patients.pk}/change/", form)
    assert response.status_code == 302, response.context["errors"]
    assert MacroButton.objects.get(module=patients).fields == ["ward", "insured"]


# The record list ---------------------------------------------------------------------


@pytest.fixture
def ward(patients):
    asha = add(patients, name_field="Asha", email="ASHA@example.com", age=34, ward="North",
               admitted="2026-11-02", insured=True)  # fmt: skip
    ravi = add(patients, name_field="Ravi", age=71, ward="South", admitted="2026-11-20")
    meera = add(patients, name_field="Meera", age=8, ward="North", insured=False)
    return asha, ravi, meera


def test_the_list_has_a_column_per_field_and_the_module_as_title(logged_in, patients, ward):
    response = logged_in.get("/admin/crm/record/", {"module": patients.pk})
    page = response.content.decode()
    assert "<h1>Patients</h1>" in page
    for label in ("Name", "E-mail", "Age", "Ward", "Admitted", "Insured"):
        assert f">{label}<" in page
    assert "asha@example.com" in page
    assert set(listed_ids(response)) == {record.pk for record in ward}
    assert f"/admin/crm/record/import/?module={patients.pk}" in page
    assert f"/admin/crm/record/add/?module={patients.pk}" in page


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"f.ward": "North"}, {"Asha", "Meera"}),
        ({"f.age.from": "30"}, {"Asha", "Ravi"}),
        ({"f.age.from": "30", "f.age.to": "50"}, {"Asha"}),
        ({"f.admitted.from": "2026-11-10"}, {"Ravi"}),
        ({"f.admitted.to": "2026-11-10"}, {"Asha"}),
        ({"f.name_field": "ee"}, {"Meera"}),
        ({"f.email": "asha@"}, {"Asha"}),
        ({"f.insured": "no"}, {"Meera"}),
        ({"f.insured": "yes", "f.ward": "North"}, {"Asha"}),
    ],
)
def test_the_filter_bar_filters_on_any_field(logged_in, patients, ward, params, expected):
    response = logged_in.get("/admin/crm/record/", {"module": patients.pk, **params})
    names = {record.data["name_field"] for record in response.context["cl"].result_list}
    assert names == expected
    # The boxes keep what was typed, and other links keep the filter.
    page = response.content.decode()
    for value in params.values():
        assert f'value="{value}"' in page


def test_a_wrong_filter_box_is_said_by_the_box_not_a_500(logged_in, patients, ward):
    response = logged_in.get("/admin/crm/record/", {"module": patients.pk, "f.age.from": "old"})
    assert response.status_code == 200
    assert listed_ids(response) == []
    page = response.content.decode()
    assert "Enter a number." in page
    assert "Some filter boxes are not right" in page


def test_sortable_fields_sort_by_their_column(logged_in, patients, ward):
    asha, ravi, meera = ward
    changelist = logged_in.get("/admin/crm/record/", {"module": patients.pk}).context["cl"]
    headers = [getattr(f, "short_description", f) for f in changelist.list_display]
    age_column = headers.index("Age")
    ascending = logged_in.get("/admin/crm/record/", {"module": patients.pk, "o": age_column})
    assert listed_ids(ascending) == [meera.pk, asha.pk, ravi.pk]
    by_name = logged_in.get(
        "/admin/crm/record/", {"module": patients.pk, "o": f"-{headers.index('Name')}"}
    )
    assert listed_ids(by_name) == [ravi.pk, meera.pk, asha.pk]
    # Ward is not sortable: its header is not a sort link.
    assert changelist.model_admin.get_list_display  # the same admin
    page = logged_in.get("/admin/crm/record/", {"module": patients.pk}).content.decode()
    assert f'href="?module={patients.pk}&amp;o={age_column}.' in page
    assert f"o={headers.index('Ward')}." not in page


def test_the_list_is_paginated(logged_in, patients):
    for number in range(55):
        add(patients, name_field=f"Patient {number}")
    first = logged_in.get("/admin/crm/record/", {"module": patients.pk})
    assert len(listed_ids(first)) == 50
    second = logged_in.get("/admin/crm/record/", {"module": patients.pk, "p": 2})
    assert len(listed_ids(second)) == 5


def test_csv_export_is_the_filtered_sorted_list(logged_in, patients, ward):
    response = logged_in.get(
        "/admin/crm/record/export/", {"module": patients.pk, "f.ward": "North", "o": "-1"}
    )
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="acme-patients.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:7] == ["id", "name_field", "email", "age", "ward", "admitted", "insured"]
    assert [row[1] for row in rows[1:]] == ["Meera", "Asha"]
    assert rows[2][2:7] == ["asha@example.com", "34", "North", "2026-11-02", "Yes"]


# The record form ---------------------------------------------------------------------


def record_form(note="", **values):
    form = {"owner": "", "contact": "", "note": note}
    form.update({f"data__{key}": value for key, value in values.items()})
    return form


def test_the_record_form_is_made_of_the_module_fields(logged_in, patients):
    page = logged_in.get("/admin/crm/record/add/", {"module": patients.pk}).content.decode()
    assert 'name="data__name_field"' in page
    assert 'type="date" name="data__admitted"' in page
    assert '<option value="North">North</option>' in page
    assert 'type="email" name="data__email"' in page


def test_adding_a_record_validates_each_field_by_its_box(logged_in, patients, member):
    response = logged_in.post(
        f"/admin/crm/record/add/?module={patients.pk}",
        record_form(email="not an e-mail", age="old", ward="East"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["data__name_field"] == ["Name: a value is required."]
    assert "data__email" in errors
    assert errors["data__age"] == ["Age: 'old' is not a number."]
    assert errors["data__ward"] == [
        "Select a valid choice. East is not one of the available choices."
    ]
    assert not Record.objects.filter(module=patients).exists()

    response = logged_in.post(
        f"/admin/crm/record/add/?module={patients.pk}",
        record_form(
            name_field=" Asha ",
            email="Asha@Example.com",
            age="34",
            ward="North",
            insured="yes",
            note="Allergic to penicillin",
        ),  # fmt: skip
    )
    assert response.status_code == 302
    record = Record.objects.get(module=patients)
    assert record.data == {"name_field": "Asha", "email": "asha@example.com", "age": 34,
                           "ward": "North", "insured": True}  # fmt: skip
    kinds = set(record.entries.values_list("kind", "author"))
    assert kinds == {(RecordEntry.Kind.CHANGE, member.pk), (RecordEntry.Kind.NOTE, member.pk)}


def test_a_unique_value_another_record_has_is_refused_by_its_box(logged_in, patients, ward):
    response = logged_in.post(
        f"/admin/crm/record/add/?module={patients.pk}",
        record_form(name_field="Other Asha", email="asha@example.com"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["data__email"] == ["Another Patients record already has asha@example.com."]


def test_the_record_page_edits_values_shows_the_timeline_and_moves_in_funnels(
    logged_in, patients, ward, member
):
    asha = ward[0]
    funnel = Funnel.objects.create(module=patients, name="Follow-up")
    called, seen = (funnel.stages.create(name=name, position=i) for i, name in
                    enumerate(["Called", "Seen"]))  # fmt: skip
    services.add_record_note(asha, "First visit")
    page = logged_in.get(f"/admin/crm/record/{asha.pk}/change/").content.decode()
    assert "First visit" in page
    assert 'value="asha@example.com"' in page
    assert "Follow-up stage" in page

    form = record_form(name_field="Asha", email="asha@example.com", age="35", ward="North",
                       admitted="2026-11-02", insured="yes", note="Called back")  # fmt: skip
    form[f"funnel__{funnel.pk}"] = str(called.pk)
    response = logged_in.post(f"/admin/crm/record/{asha.pk}/change/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    asha.refresh_from_db()
    assert asha.data["age"] == 35
    assert asha.placements.get().stage == called
    texts = list(asha.entries.values_list("text", flat=True))
    assert texts[:3] == ["Called back", "Follow-up: entered at Called", "Age: 34 → 35"]

    form[f"funnel__{funnel.pk}"] = str(seen.pk)
    form["note"] = ""
    response = logged_in.post(f"/admin/crm/record/{asha.pk}/change/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert asha.placements.get().stage == seen
    form[f"funnel__{funnel.pk}"] = ""
    logged_in.post(f"/admin/crm/record/{asha.pk}/change/", form)
    assert not asha.placements.exists()
    page = logged_in.get(f"/admin/crm/record/{asha.pk}/change/").content.decode()
    assert "Follow-up: Called → Seen" in page
    assert "Follow-up: left (was at Seen)" in page


def test_deleting_a_record_goes_through_the_record_store(logged_in, patients, ward):
    asha = ward[0]
    response = logged_in.post(f"/admin/crm/record/{asha.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Record.objects.filter(pk=asha.pk).exists()
