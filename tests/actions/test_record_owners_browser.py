"""Record owners in the action page, in a real browser: Add Record's owner settings are
selects and picker rows, not JSON; a member the project lacks is refused at its box, and
an agent picked from a department's team is saved.

Screenshots go to $PICKY_SCREENSHOT_DIR when set, else to the test's temporary folder.
"""

import os
from pathlib import Path

import pytest

from actions.models import Action
from teambox.models import Department
from tests.builders import build_agent, build_connector
from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]


def test_add_record_gives_the_record_to_an_agent_picked_from_a_department(
    live_server, transactional_db, project, member, tmp_path
):
    sales = Department.objects.create(project=project, name="Sales")
    build_agent(project, "anu", departments=[sales])
    step = build_connector(project, name="New leads", steps=[{"name": "Save the lead"}])
    step = step.steps.get()
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    base = live_server.url

    with browser_page() as page:
        log_in(page, base)
        page.goto(f"{base}/admin/actions/action/add/?type=record_add&step={step.pk}")
        page.fill("#id_config__module", "Deals")
        values = page.locator(".field-config__values")
        values.get_by_role("button", name="+ Add a row").click()
        values.locator(".picky-key-box").last.fill("title")
        values.locator(".picky-pair-value").last.fill("{{ event.name }}")
        page.select_option("[name=config__owner]", "member")
        page.fill("[name=config__owner_member]", "zed")
        page.click("[name=_save]")
        error = page.locator(".field-config__owner_member .errorlist").inner_text()
        page.screenshot(path=str(folder / "record-owner-refused.png"), full_page=True)

        page.fill("[name=config__owner_member]", "")
        page.select_option("[name=config__owner]", "team")
        departments = page.locator(".field-config__owner_departments")
        departments.get_by_role("button", name="+ Add").click()
        departments.locator(".picky-item-value").last.fill("sales")
        departments.locator(".picky-item-value").last.press("Tab")
        page.select_option("[name=config__owner_strategy]", "least_recently_assigned")
        page.select_option("[name=config__if_no_agent]", "fail")
        page.locator(".field-config__owner").scroll_into_view_if_needed()
        page.screenshot(path=str(folder / "record-owner-team.png"), full_page=True)
        page.click("[name=_save]")
        page.wait_for_url(lambda url: "/add/" not in url)

    assert error.startswith("No member of project 'acme' is called 'zed'.")
    assert "member" in error  # the members listed
    config = Action.objects.get(step=step).config
    assert {key: config.get(key) for key in config if key.startswith(("owner", "if_no"))} == {
        "owner": "team",
        "owner_departments": ["sales"],
        "owner_strategy": "least_recently_assigned",
        "owner_presence": "online",
        "if_no_agent": "fail",
    }
