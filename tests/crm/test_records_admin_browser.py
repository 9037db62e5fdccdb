"""Modules and records in a real browser: a business user builds a Patients module and
its fields, adds records with the form, filters the list and exports it; imports a CSV
with a refused row, which a worker imports while its page follows it; drags a card on
the funnel board. Screenshots go to $PICKY_SCREENSHOT_DIR when set."""

import csv
import io
import os
import threading
from pathlib import Path

import pytest

from crm.models import Field, Funnel, Module, Record
from crm.records import imports, services
from crm.records.funnels import add_to_funnel
from crm.tasks import run_record_import
from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def screenshot_dir(tmp_path):
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def fill_field_row(page, index, label, type_, choices="", flags=()):
    row = f"#id_fields-{index}"
    page.fill(f"{row}-label", label)
    page.select_option(f"{row}-type", type_)
    if choices:
        page.fill(f"{row}-choices", choices)
    for flag in flags:
        page.check(f"{row}-{flag}")


def test_build_a_module_add_filter_and_export_records(
    live_server, transactional_db, project, member, screenshot_dir
):
    base = live_server.url
    with browser_page() as page:
        log_in(page, base)
        page.goto(f"{base}/admin/crm/module/add/")
        page.fill("#id_name", "Patients")
        fill_field_row(page, 0, "Name", "text", flags=("required", "sortable"))
        for index, (label, type_, choices, flags) in enumerate(
            [
                ("E-mail", "email", "", ("unique",)),
                ("Age", "number", "", ("sortable",)),
                ("Ward", "choice", "North\nSouth", ()),
            ],
            start=1,
        ):
            page.click("#fields-group .add-row a")
            fill_field_row(page, index, label, type_, choices, flags)
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")
        page.screenshot(path=str(screenshot_dir / "records-module.png"), full_page=True)

        # Records through the form: a missing required value is said by its box.
        page.get_by_role("link", name="Add a record").click()
        page.fill("#id_data__e_mail", "asha@example.com")
        page.click("input[name=_addanother]")
        assert "Name: a value is required." in page.inner_text(".field-data__name_field")
        for name, email, age, ward in [
            ("Asha", "ASHA@example.com", "34", "North"),
            ("Ravi", "ravi@example.com", "71", "South"),
            ("Meera", "meera@example.com", "8", "North"),
        ]:
            page.fill("#id_data__name_field", name)
            page.fill("#id_data__e_mail", email)
            page.fill("#id_data__age", age)
            page.select_option("#id_data__ward", ward)
            page.click("input[name=_addanother]")
            page.wait_for_selector(".messagelist .success")

        # The list: filter by ward, sort by age, export what is listed.
        page.get_by_role("link", name="Patients", exact=True).first.click()
        page.select_option("[name='f.ward']", "North")
        page.click("#record-filter input[type=submit]")
        page.wait_for_url(lambda url: "f.ward=North" in url)
        page.click("th.column-field_age a")
        page.wait_for_url(lambda url: "o=" in url)
        names = page.locator("td.field-field_name_field").all_inner_texts()
        page.screenshot(path=str(screenshot_dir / "records-list.png"), full_page=True)
        with page.expect_download() as download:
            page.click("#export-csv")
        exported = Path(download.value.path()).read_text()

    assert names == ["Meera", "Asha"]
    rows = list(csv.reader(io.StringIO(exported)))
    assert [row[1] for row in rows[1:]] == ["Meera", "Asha"]
    assert rows[2][2] == "asha@example.com"
    module = Module.objects.get(project=project, name="Patients")
    keys = list(module.fields.values_list("key", flat=True))
    assert keys == ["name_field", "e_mail", "age", "ward"]
    assert module.records.count() == 3


@pytest.fixture
def clinic(transactional_db, project):
    module = Module.objects.create(project=project, name="Patients")
    specs = [
        ("name_field", "Name", "text", {"required": True}),
        ("email", "E-mail", "email", {"unique": True}),
        ("age", "Age", "number", {}),
    ]
    for position, (key, label, type_, options) in enumerate(specs):
        Field.objects.create(
            module=module, key=key, label=label, type=type_, position=position, **options
        )
    asha = services.add_record(module, {"name_field": "Asha", "email": "asha@example.com"})
    ravi = services.add_record(module, {"name_field": "Ravi", "email": "ravi@example.com"})
    funnel = Funnel.objects.create(module=module, name="Follow-up")
    stages = [funnel.stages.create(name=name, position=i) for i, name in
              enumerate(["To call", "Called", "Seen"], start=1)]  # fmt: skip
    add_to_funnel(funnel, asha, stages[0])
    add_to_funnel(funnel, ravi, stages[0])
    return {"module": module, "funnel": funnel, "stages": stages, "asha": asha, "ravi": ravi}


def test_import_a_csv_and_drag_a_card_on_the_funnel_board(
    live_server, member, clinic, screenshot_dir, monkeypatch
):
    # The import's task is run here, in a thread of its own, once its page shows it queued.
    queued = []
    monkeypatch.setattr(imports, "enqueue", lambda task, import_id: queued.append(import_id))

    def run_the_worker():
        worker = threading.Thread(target=run_record_import, args=(queued[0],))
        worker.start()
        worker.join()

    module, funnel, stages = clinic["module"], clinic["funnel"], clinic["stages"]
    asha = clinic["asha"]
    base = live_server.url
    text = (
        "Name,Mail,Years,Notes\n"
        "Asha Nair,asha@example.com,35,updated\n"
        "Kiran,kiran@example.com,41,new\n"
        "Bad,not an e-mail,20,refused\n"
    )
    with browser_page() as page:
        log_in(page, base)
        page.goto(f"{base}/admin/crm/record/import/?module={module.pk}")
        page.set_input_files(
            "#id_file",
            files=[{"name": "patients.csv", "mimeType": "text/csv", "buffer": text.encode()}],
        )
        page.wait_for_selector("#column-mapping:not([hidden])")
        guessed = [page.input_value(f"[name=column_{i}]") for i in range(4)]
        page.select_option("[name=column_1]", "email")
        page.select_option("[name=column_2]", "age")
        page.select_option("#id_upsert", "email")
        page.screenshot(path=str(screenshot_dir / "records-import-mapping.png"), full_page=True)
        page.click("#import-form input[type=submit]")
        page.wait_for_selector("#import-progress")
        waiting = page.inner_text("#import-progress h2")
        page.screenshot(path=str(screenshot_dir / "records-import-queued.png"), full_page=True)
        run_the_worker()
        # The page reloads itself while the import runs, and shows the report at its end.
        page.wait_for_selector("#refused-rows")
        done = page.inner_text("#import-progress h2")
        counts = page.inner_text(".picky-import-counts")
        refused = page.inner_text("#refused-rows")
        listed = page.inner_text("#earlier-imports")
        page.screenshot(path=str(screenshot_dir / "records-import-report.png"), full_page=True)

        page.goto(f"{base}/admin/crm/funnel/{funnel.pk}/change/")
        page.screenshot(path=str(screenshot_dir / "records-funnel-stages.png"), full_page=True)
        page.goto(f"{base}/admin/crm/module/")
        page.screenshot(path=str(screenshot_dir / "records-modules.png"), full_page=True)

        page.goto(f"{base}/admin/crm/funnel/{funnel.pk}/board/")
        card = page.locator(f".picky-card[data-record='{asha.pk}']")
        # Held by its title, as a hand would (its stage select is no handle).
        card.drag_to(
            page.locator(f".picky-stage[data-stage='{stages[2].pk}']"),
            source_position={"x": 10, "y": 8},
        )
        seen_count = page.locator(f".picky-stage[data-stage='{stages[2].pk}'] .picky-count")
        page.wait_for_function(
            "element => element.textContent === '1'", arg=seen_count.element_handle()
        )
        page.screenshot(path=str(screenshot_dir / "records-funnel-board.png"), full_page=True)

        page.goto(f"{base}/admin/crm/record/{asha.pk}/change/")
        timeline = page.inner_text(".field-timeline")
        page.screenshot(path=str(screenshot_dir / "records-record.png"), full_page=True)

    assert guessed == ["name_field", "", "", ""]
    assert (waiting, done) == ("Waiting for a worker", "Done")
    assert counts.split("·") == [
        "1 added ", " 1 updated ", " 1 refused ", " 3 of 3 rows read"
    ]  # fmt: skip
    assert "patients.csv" in listed and "Done" in listed
    assert "4" in refused and "E-mail" in refused
    asha.refresh_from_db()
    assert asha.data["name_field"] == "Asha Nair"
    assert asha.placements.get().stage == stages[2]
    assert "Follow-up: To call → Seen" in timeline
    assert Record.objects.filter(module=module).count() == 3
