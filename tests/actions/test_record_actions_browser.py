"""A module action built in a real browser, without JSON: the module typed, the values as
rows of field and template, the boxes ticked; a field the module lacks is refused at its
setting, naming it and listing the module's fields.

Screenshots go to $PICKY_SCREENSHOT_DIR when set, else to the test's temporary folder.
"""

import os
from pathlib import Path

import pytest

from actions.models import Action
from tests.builders import build_connector
from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]


def test_add_record_is_set_up_by_typing_and_refused_at_a_field_the_module_lacks(
    live_server, transactional_db, project, member, tmp_path
):
    connector = build_connector(project, name="New deals", steps=[{"name": "Save the deal"}])
    step = connector.steps.get()
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    with browser_page() as page:
        log_in(page, base)
        page.goto(f"{base}/admin/connectors/step/{step.pk}/change/")
        page.get_by_role("link", name="Add an action").click()
        page.get_by_role("link", name="Add Record", exact=True).click()
        page.fill("#id_config__module", "Deals")
        values = page.locator(".field-config__values")
        assert not values.locator("textarea").is_visible()
        for key, value in (("titel", "{{ event.name }}"), ("stage", "Proposal")):
            values.get_by_role("button", name="+ Add a row").click()
            values.locator(".picky-key-box").last.fill(key)
            values.locator(".picky-pair-value").last.fill(value)
        page.check("#id_config__only_complete")
        page.fill("#id_config__save_as", "deal")
        page.click("input[name=_save]")

        error = page.locator(".field-config__values .errorlist")
        assert "Deals has no field 'titel'." in error.inner_text()
        assert "Its fields: title, amount, stage, close_date, company." in error.inner_text()
        page.screenshot(path=str(folder / "record-add-refused.png"), full_page=True)

        values = page.locator(".field-config__values")
        values.locator(".picky-key-box").first.fill("title")
        page.screenshot(path=str(folder / "record-add.png"), full_page=True)
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist .success")

    action = Action.objects.get(step=step)
    assert (action.type, action.config["module"]) == ("record_add", "Deals")
    assert action.config["values"] == {"title": "{{ event.name }}", "stage": "Proposal"}
    assert action.config["only_complete"] is True
    assert action.config["save_as"] == "deal"


def test_search_criteria_are_built_as_conditions_and_refused_at_a_field_the_module_lacks(
    live_server, transactional_db, project, member, tmp_path
):
    connector = build_connector(project, name="Won deals", steps=[{"name": "Find them"}])
    step = connector.steps.get()
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    with browser_page() as page:
        log_in(page, base)
        page.goto(f"{base}/admin/connectors/step/{step.pk}/change/")
        page.get_by_role("link", name="Add an action").click()
        page.get_by_role("link", name="Search Records", exact=True).click()
        page.fill("#id_config__module", "Deals")
        criteria = page.locator(".field-config__criteria")
        assert "No condition: every record of the module." in criteria.inner_text()
        assert criteria.locator(".picky-case").count() == 0
        criteria.get_by_role("button", name="+ Add a condition").click()
        criteria.locator(".picky-field").last.fill("stag")
        criteria.locator("select").last.select_option("equals")
        criteria.locator(".picky-value").last.fill("Won")
        criteria.get_by_role("button", name="+ And a condition").click()
        criteria.locator(".picky-field").last.fill("amount")
        criteria.locator("select").last.select_option("gte")
        criteria.locator(".picky-value").last.fill("{{ event.least }}")
        page.fill("#id_config__save_as", "won")
        page.click("input[name=_save]")

        error = page.locator(".field-config__criteria .errorlist")
        assert "Deals has no field “stag”." in error.inner_text()
        page.locator(".field-config__criteria .picky-field").first.fill("stage")
        page.screenshot(path=str(folder / "record-search.png"), full_page=True)
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist .success")

    action = Action.objects.get(step=step)
    assert action.type == "record_search"
    assert action.config["criteria"] == [
        [
            {"field": "stage", "op": "equals", "value": "Won"},
            {"field": "amount", "op": "gte", "value": "{{ event.least }}"},
        ]
    ]
