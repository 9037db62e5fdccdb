"""The record store's admin pages with Django's test client: building a module without
JSON, the record list (columns, filter bar, sort, CSV export), the record form, the CSV
import, the funnel board, and another project's modules never shown."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from crm.models import Field, Funnel, MacroButton, Module, Record, RecordEntry, RecordImport
from crm.records import services
from crm.records.funnels import add_to_funnel

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


# The funnel board --------------------------------------------------------------------


@pytest.fixture
def follow_up(patients, ward):
    funnel = Funnel.objects.create(module=patients, name="Follow-up")
    called = funnel.stages.create(name="Called", position=1)
    seen = funnel.stages.create(name="Seen", position=2)
    asha, ravi, _ = ward
    add_to_funnel(funnel, asha, called)
    add_to_funnel(funnel, ravi, called)
    return funnel, called, seen


def test_the_board_shows_stages_with_counts_and_cards(logged_in, follow_up, ward):
    funnel, called, seen = follow_up
    response = logged_in.get(f"/admin/crm/funnel/{funnel.pk}/board/")
    columns = response.context["columns"]
    assert [(c["stage"].name, c["stage"].record_total) for c in columns] == [
        ("Called", 2),
        ("Seen", 0),
    ]
    assert {card["title"] for card in columns[0]["cards"]} == {"Asha", "Ravi"}
    page = response.content.decode()
    assert 'draggable="true"' in page
    assert 'name="stage"' in page


def test_a_card_moves_by_a_drag_or_by_its_select(logged_in, follow_up, ward, member):
    funnel, called, seen = follow_up
    asha, ravi, meera = ward
    dragged = logged_in.post(
        f"/admin/crm/funnel/{funnel.pk}/move/",
        {"record": asha.pk, "stage": seen.pk},
        headers={"Accept": "application/json"},
    )
    assert dragged.json() == {"record": asha.pk, "stage": seen.pk}
    assert asha.placements.get().stage == seen
    move = asha.funnel_moves.order_by("-id").first()
    assert (move.from_stage, move.to_stage, move.author) == (called, seen, member)

    selected = logged_in.post(
        f"/admin/crm/funnel/{funnel.pk}/move/", {"record": ravi.pk, "stage": seen.pk}, follow=True
    )
    assert "Ravi moved to Seen." in selected.content.decode()
    assert ravi.placements.get().stage == seen

    other_stage = Funnel.objects.create(module=funnel.module, name="Other").stages.create(name="X")
    refused = logged_in.post(
        f"/admin/crm/funnel/{funnel.pk}/move/",
        {"record": meera.pk, "stage": other_stage.pk},
        headers={"Accept": "application/json"},
    )
    assert refused.status_code == 400
    assert "no longer in this funnel" in refused.json()["error"]
    assert not meera.placements.exists()


# Tenancy -----------------------------------------------------------------------------


def test_another_projects_modules_and_records_are_never_shown(
    logged_in, patients, ward, other_project
):
    theirs = Module.objects.create(project=other_project, name="Secret patients")
    Field.objects.create(module=theirs, key="name_field", label="Name", type="text")
    record = add(theirs, name_field="Hidden")
    funnel = Funnel.objects.create(module=theirs, name="Theirs")
    stage = funnel.stages.create(name="Only")

    assert logged_in.get("/admin/crm/record/", {"module": theirs.pk}).status_code == 404
    assert logged_in.get("/admin/crm/record/export/", {"module": theirs.pk}).status_code == 404
    assert logged_in.get("/admin/crm/record/import/", {"module": theirs.pk}).status_code == 404
    assert logged_in.get("/admin/crm/record/add/", {"module": theirs.pk}).status_code == 404
    assert logged_in.get(f"/admin/crm/record/{record.pk}/change/").status_code == 302
    assert logged_in.get(f"/admin/crm/module/{theirs.pk}/change/").status_code == 302
    assert logged_in.get(f"/admin/crm/funnel/{funnel.pk}/board/").status_code == 404
    moved = logged_in.post(
        f"/admin/crm/funnel/{funnel.pk}/move/", {"record": record.pk, "stage": stage.pk}
    )
    assert moved.status_code == 404

    everything = logged_in.get("/admin/crm/record/")
    assert record.pk not in listed_ids(everything)
    page = everything.content.decode()
    assert "Secret patients" not in page
    modules = logged_in.get("/admin/crm/module/").content.decode()
    assert "Secret patients" not in modules
    # A relation field offers the modules of the module's own project only.
    builder = logged_in.get(f"/admin/crm/module/{patients.pk}/change/").content.decode()
    assert "Secret patients" not in builder


def test_agents_do_not_reach_the_record_pages(client, project, patients):
    from django.contrib.auth import get_user_model

    from picky.models import Membership

    agent = get_user_model().objects.create_user("agent", password="pw", is_staff=True)
    Membership.objects.create(project=project, user=agent, role=Membership.Role.AGENT)
    client.force_login(agent)
    assert client.get("/admin/crm/record/", {"module": patients.pk}).status_code == 403
    assert client.get("/admin/crm/module/").status_code == 403


# CSV import --------------------------------------------------------------------------


def csv_file(text, name="patients.csv", encoding="utf-8"):
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


@pytest.fixture
def import_csv(logged_in, eager_celery, django_capture_on_commit_callbacks):
    """Post a file to a module's import page; a queued import runs in-process at the
    commit, and its page is fetched as the redirect leads to it."""

    def post(module, text, **form):
        with django_capture_on_commit_callbacks(execute=True):
            response = logged_in.post(
                f"/admin/crm/record/import/?module={module.pk}", {"file": csv_file(text), **form}
            )
        if response.status_code == 302:
            return logged_in.get(response["Location"])
        return response

    return post


def test_an_import_maps_columns_upserts_and_reports_refused_rows(import_csv, patients, ward):
    text = (
        "Full name,Mail,Years,Room\n"
        "Asha N,asha@example.com,35,North\n"  # updates Asha (same e-mail)
        "Kiran,kiran@example.com,41,South\n"
        "Bad,not-an-email,20,North\n"
        ",nobody@example.com,50,South\n"  # no name, which is required
        'Lata,"lata@example.com",n/a,North\n'
    )
    response = import_csv(
        patients,
        text,
        upsert="email",
        column_0="name_field",
        column_1="email",
        column_2="age",
        column_3="",
    )
    assert response.status_code == 200
    done = response.context["record_import"]
    assert (done.status, done.created, done.updated, done.rows_done) == ("done", 1, 1, 5)
    refused = dict(done.refused)
    assert sorted(refused) == [4, 5, 6]
    assert "E-mail" in refused[4]
    assert "Name" in refused[5]
    assert "Age" in refused[6]
    page = response.content.decode()
    assert "<td>4</td>" in page and "Room → <em>left out</em>" in page
    assert "Records with the same E-mail are updated, not added again." in page
    assert 'http-equiv="refresh"' not in page  # done: the page no longer reloads
    asha = Record.objects.get(pk=ward[0].pk)
    assert (asha.data["name_field"], asha.data["age"], asha.data["ward"]) == ("Asha N", 35, "North")
    kiran = Record.objects.get(module=patients, data__email="kiran@example.com")
    assert kiran.data == {"name_field": "Kiran", "email": "kiran@example.com", "age": 41}


def test_a_posted_file_is_queued_and_its_page_follows_it(
    logged_in, patients, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        response = logged_in.post(
            f"/admin/crm/record/import/?module={patients.pk}",
            {"file": csv_file("Name\nAsha\n", name="ward 7.csv")},
        )
    record_import = RecordImport.objects.get()
    assert response["Location"] == f"/admin/crm/record/import/{record_import.pk}/"
    assert len(queued) == 1  # the task, published once the import is saved
    assert (record_import.file_name, record_import.author, record_import.header) == (
        "ward 7.csv", member, ["Name"]
    )  # fmt: skip
    assert record_import.mapping == {"0": "name_field"}
    assert record_import.file.read() == b"Name\nAsha\n"
    page = logged_in.get(response["Location"]).content.decode()
    assert "Waiting for a worker" in page and '<meta http-equiv="refresh" content="2">' in page
    assert not Record.objects.filter(module=patients).exists()
    # The import page lists the module's imports.
    listed = logged_in.get("/admin/crm/record/import/", {"module": patients.pk})
    assert f'href="/admin/crm/record/import/{record_import.pk}/">ward 7.csv</a>' in (
        listed.content.decode()
    )


def test_a_running_import_shows_its_progress(logged_in, patients):
    record_import = RecordImport.objects.create(
        project=patients.project, module=patients, file="x.csv", file_name="big.csv",
        header=["Name"], mapping={"0": "name_field"}, status="running", total_rows=8000,
        rows_done=2000, created=1990, refused_count=10, refused=[[7, "Name: too long."]],
    )  # fmt: skip
    page = logged_in.get(f"/admin/crm/record/import/{record_import.pk}/").content.decode()
    assert "Row 2000 of 8000 imported (25%)" in page
    assert '<progress id="import-bar" max="100" value="25">' in page
    assert "<strong>1990</strong> added" in page and "<strong>10</strong> refused" in page
    assert "And 9 more refused rows" in page
    assert 'http-equiv="refresh"' in page


def test_a_stopped_import_says_why_and_continues_from_its_last_batch(
    logged_in, patients, eager_celery, django_capture_on_commit_callbacks
):
    record_import = RecordImport(
        project=patients.project, module=patients, file_name="ward.csv", header=["Name"],
        mapping={"0": "name_field"}, status="failed", total_rows=3, rows_done=1, created=1,
        error="The import stopped at row 3 (the database went away). 1 row before it went in "
        "as the report says; rows from 3 on were not imported.",
    )  # fmt: skip
    record_import.file.save("ward.csv", csv_file("Name\nAsha\nKiran\nLata\n"))
    add(patients, name_field="Asha")
    url = f"/admin/crm/record/import/{record_import.pk}/"
    page = logged_in.get(url).content.decode()
    assert "1 row before it went in" in page and 'value="Continue from row 3"' in page
    with django_capture_on_commit_callbacks(execute=True):
        assert logged_in.post(url)["Location"] == url
    record_import.refresh_from_db()
    assert (record_import.status, record_import.created, record_import.error) == ("done", 3, "")
    listed = sorted(r.data["name_field"] for r in Record.objects.filter(module=patients))
    assert listed == ["Asha", "Kiran", "Lata"]


def test_without_the_page_script_columns_are_matched_by_their_header(import_csv, patients):
    text = "\ufeffName,E-MAIL,age,Comment\nAsha,asha@example.com,34,likes tea\n"
    response = import_csv(patients, text)
    assert response.context["record_import"].created == 1
    record = Record.objects.get(module=patients)
    assert record.data == {"name_field": "Asha", "email": "asha@example.com", "age": 34}


def test_the_import_page_offers_fields_and_unique_fields(logged_in, patients):
    response = logged_in.get("/admin/crm/record/import/", {"module": patients.pk})
    assert response.context["targets"]["ward"] == "Ward"
    assert response.context["guesses"]["e_mail"] == "email"
    page = response.content.decode()
    assert '<option value="email">E-mail</option>' in page
    assert '<option value="age">' not in page  # not unique: not an upsert choice
    assert "at most 200.0\xa0MB and 1,000,000 rows" in page


@pytest.mark.parametrize(
    ("text", "form", "message"),
    [
        ("\n", {}, "The file is empty"),
        ("Name,Name\nA,B\n", {"column_0": "name_field", "column_1": "name_field"},
         "More than one column goes into Name"),
        ("Colour\nred\n", {}, "No column goes into a field"),
        ("Age\n3\n", {"upsert": "email"}, "a column must go into it"),
    ],
)  # fmt: skip
def test_an_import_that_cannot_run_says_why_and_imports_nothing(
    import_csv, patients, text, form, message
):
    response = import_csv(patients, text, **form)
    assert message in response.context["import_error"]
    assert not RecordImport.objects.exists()
    assert not Record.objects.filter(module=patients).exists()


def test_files_over_the_limits_are_refused_with_the_limit_said(import_csv, patients, monkeypatch):
    from crm.records import imports
    from crm.records.admin import importing

    monkeypatch.setattr(imports, "MAX_IMPORT_ROWS", 2)
    response = import_csv(patients, "Name\nA\nB\nC\n")
    assert response.context["record_import"].error == (
        "The file has 3 rows; Picky imports up to 2 rows a file. Split it into smaller files; "
        "nothing was imported."
    )
    monkeypatch.setattr(importing, "MAX_IMPORT_BYTES", 10)
    response = import_csv(patients, "Name\nA\nB\nC\n")
    assert response.context["form"].errors["file"] == [
        "The file is 11\xa0bytes; Picky imports files of up to 10\xa0bytes. "
        "Split it into smaller files."
    ]
    assert RecordImport.objects.count() == 1
    assert not Record.objects.filter(module=patients).exists()


def test_a_file_cut_by_the_web_servers_deadline_is_said_so(logged_in, patients):
    # The body the web server passed on ends before the Content-Length it announced.
    body = encode_multipart(BOUNDARY, {"file": csv_file("Name\n" + "Asha\n" * 40_000)})
    response = logged_in.post(
        f"/admin/crm/record/import/?module={patients.pk}",
        content_type=MULTIPART_CONTENT,
        CONTENT_LENGTH=str(len(body)),
        **{"wsgi.input": io.BytesIO(body[: len(body) // 2])},
    )
    assert response.context["form"].errors["file"] == [
        "The file did not arrive in full: the web server takes 10 minutes at most to receive "
        "an upload, and this one took longer. Upload it over a faster connection or in "
        "smaller files, or ask whoever runs Picky to raise PICKY_UPLOAD_READ_SECONDS; nothing "
        "was imported."
    ]
    assert not RecordImport.objects.exists()


def test_a_file_that_is_not_utf8_is_refused(logged_in, patients):
    response = logged_in.post(
        f"/admin/crm/record/import/?module={patients.pk}",
        {"file": csv_file("Name\nJosé\n", encoding="latin-1")},
    )
    assert "not UTF-8" in response.context["import_error"]
    assert not RecordImport.objects.exists()


def test_a_big_file_streams_from_disk_in_batches(import_csv, patients, settings):
    # Over this, Django writes the upload to a temporary file, read line by line.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    lines = [f"Patient {n},p{n}@example.com,{n % 90}" for n in range(2500)]
    lines[2398] = "Patient bad,not an e-mail,1"  # the file's line 2,400
    response = import_csv(patients, "Name,E-mail,Age\n" + "\n".join(lines) + "\n")
    done = response.context["record_import"]
    assert (done.created, done.updated, done.rows_done, done.total_rows) == (2499, 0, 2500, 2500)
    assert [number for number, _ in done.refused] == [2400]
    assert Record.objects.filter(module=patients).count() == 2499


def test_another_projects_import_is_never_shown(logged_in, other_project):
    theirs = Module.objects.create(project=other_project, name="Secret patients")
    record_import = RecordImport.objects.create(
        project=other_project, module=theirs, file="x.csv", file_name="secret.csv"
    )
    assert logged_in.get(f"/admin/crm/record/import/{record_import.pk}/").status_code == 404
    assert logged_in.post(f"/admin/crm/record/import/{record_import.pk}/").status_code == 404


# Other field types and data-storage tables -------------------------------------------


def test_date_times_show_and_read_in_the_project_time_zone(logged_in, project, patients):
    Field.objects.create(module=patients, key="visit", label="Visit", type="datetime")
    Field.objects.create(
        module=patients, key="needs", label="Needs", type="multi_choice",
        choices=["Wheelchair", "Interpreter"],
    )  # fmt: skip
    response = logged_in.post(
        f"/admin/crm/record/add/?module={patients.pk}",
        {
            **record_form(name_field="Asha", visit="2026-12-01T09:30"),
            "data__needs": ["Interpreter"],
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    record = Record.objects.get(module=patients)
    # Asia/Kolkata is UTC+05:30.
    assert record.data["visit"] == "2026-12-01T04:00:00Z"
    assert record.data["needs"] == ["Interpreter"]
    page = logged_in.get(f"/admin/crm/record/{record.pk}/change/").content.decode()
    assert 'value="2026-12-01T09:30"' in page
    listed = logged_in.get(
        "/admin/crm/record/",
        {"module": patients.pk, "f.visit.from": "2026-12-01", "f.visit.to": "2026-12-01",
         "f.needs": "Interpreter"},
    )  # fmt: skip
    assert listed_ids(listed) == [record.pk]
    later = logged_in.get(
        "/admin/crm/record/", {"module": patients.pk, "f.visit.from": "2026-12-02"}
    )
    assert listed_ids(later) == []


def test_a_data_storage_row_is_named_and_its_name_unique(logged_in, project):
    prices = Module.objects.create(project=project, name="Prices", kind="storage")
    Field.objects.create(module=prices, key="amount", label="Amount", type="decimal")
    form = {**record_form(amount="12.50"), "name": "lamp"}
    response = logged_in.post(f"/admin/crm/record/add/?module={prices.pk}", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    row = Record.objects.get(module=prices)
    assert (row.name, row.data) == ("lamp", {"amount": "12.5"})
    again = logged_in.post(f"/admin/crm/record/add/?module={prices.pk}", form)
    assert again.context["adminform"].form.errors["name"] == [
        "Prices already has a row named “lamp”."
    ]
    page = logged_in.get("/admin/crm/record/", {"module": prices.pk}).content.decode()
    assert "Add a row" in page and "Import CSV" in page


def test_a_data_storage_import_names_its_rows(logged_in, import_csv, project):
    prices = Module.objects.create(project=project, name="Prices", kind="storage")
    Field.objects.create(module=prices, key="amount", label="Amount", type="decimal")
    services.add_record(prices, {"amount": "1"}, name="lamp")
    page = logged_in.get("/admin/crm/record/import/", {"module": prices.pk})
    assert page.context["targets"] == {"name": "Row name", "amount": "Amount"}
    assert page.context["guesses"]["name"] == "name"
    assert '<option value="name">Row name</option>' in page.content.decode()
    refused = import_csv(prices, "Amount\n3\n")
    assert "Choose the column that goes into Row name" in refused.context["import_error"]
    response = import_csv(prices, "Name,Amount\nlamp,12.50\n chair ,3\n", upsert="name")
    done = response.context["record_import"]
    assert (done.status, done.created, done.updated) == ("done", 1, 1)
    rows = {row.name: row.data for row in Record.objects.filter(module=prices)}
    assert rows == {"lamp": {"amount": "12.5"}, "chair": {"amount": "3"}}
    assert "Rows with the same Row name are updated, not added again." in response.content.decode()


def test_a_funnels_stages_are_added_and_ordered_on_its_page(logged_in, patients):
    funnel = Funnel.objects.create(module=patients, name="Follow-up")
    form = {
        "name": "Follow-up",
        **inline_management("stages", 2),
        "stages-0-name": "Seen",
        "stages-0-position": "2",
        "stages-1-name": "To call",
        "stages-1-position": "1",
    }
    response = logged_in.post(f"/admin/crm/funnel/{funnel.pk}/change/", form)
    assert response.status_code == 302, response.context["errors"]
    assert list(funnel.stages.values_list("name", flat=True)) == ["To call", "Seen"]
    board = logged_in.get(f"/admin/crm/funnel/{funnel.pk}/board/").content.decode()
    assert board.index("<h3>To call") < board.index("<h3>Seen")


def test_the_module_list_links_to_each_modules_records(logged_in, patients, ward):
    page = logged_in.get("/admin/crm/module/").content.decode()
    assert f"/admin/crm/record/?module={patients.pk}" in page
    assert "3 records" in page
    everything = logged_in.get("/admin/crm/record/")
    titles = {row.pk: row for row in everything.context["cl"].result_list}
    assert ward[0].pk in titles
    assert ">Asha<" in everything.content.decode()


def test_the_list_shows_members_by_name_and_exports_text_no_spreadsheet_runs(
    logged_in, patients, member
):
    member.first_name, member.last_name = "Mina", "Rao"
    member.save()
    Field.objects.create(module=patients, key="doctor", label="Doctor", type="user")
    record = add(patients, name_field='=HYPERLINK("http://evil.example")', doctor=member.pk)
    response = logged_in.get("/admin/crm/record/", {"module": patients.pk})
    assert '<td class="field-field_doctor">Mina Rao</td>' in response.content.decode()
    page = logged_in.get("/admin/crm/record/add/", {"module": patients.pk}).content.decode()
    assert f'<option value="{member.pk}" selected>' in page  # the new record's owner
    export = logged_in.get("/admin/crm/record/export/", {"module": patients.pk})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[1][:2] == [str(record.pk), '\'=HYPERLINK("http://evil.example")']


def test_contact_and_relation_fields_pick_rows_of_the_project(logged_in, project, patients):
    from crm import services as crm

    doctors = Module.objects.create(project=project, name="Doctors")
    Field.objects.create(module=doctors, key="full_name", label="Full name", type="text")
    dr_rao = add(doctors, full_name="Dr Rao")
    Field.objects.create(
        module=patients, key="doctor", label="Doctor", type="relation", related_module=doctors
    )
    Field.objects.create(module=patients, key="guardian", label="Guardian", type="contact")
    guardian = crm.upsert_contact(project, "919847012345", name="Asha's mother")
    page = logged_in.get("/admin/crm/record/add/", {"module": patients.pk}).content.decode()
    assert f'<option value="{dr_rao.pk}">Dr Rao (#{dr_rao.pk})</option>' in page
    # The contact is picked by typing its name, as on any admin page naming a contact.
    assert 'name="data__guardian" id="id_data__guardian" class="admin-autocomplete"' in page
    found = logged_in.get(
        "/admin/autocomplete/",
        {"app_label": "crm", "model_name": "record", "field_name": "contact", "term": "mother"},
    ).json()
    assert [row["id"] for row in found["results"]] == [str(guardian.pk)]

    form = record_form(name_field="Asha", doctor=dr_rao.pk, guardian=guardian.pk)
    response = logged_in.post(f"/admin/crm/record/add/?module={patients.pk}", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    record = Record.objects.get(module=patients)
    assert (record.data["doctor"], record.data["guardian"]) == (dr_rao.pk, guardian.pk)


def test_adding_a_record_without_a_module_asks_for_the_module(logged_in, patients, other_project):
    Module.objects.create(project=other_project, name="Secret patients")
    response = logged_in.get("/admin/crm/record/add/")
    page = response.content.decode()
    assert f'href="/admin/crm/record/add/?module={patients.pk}">Patients</a>' in page
    assert "Secret patients" not in page
