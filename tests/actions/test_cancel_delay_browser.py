"""Cancel Delay's targets in a real browser: a row's connector chosen from the connectors
picker, its identifier from the identifiers of that connector's steps, a row without
identifier refused at the row, then saved as the JSON it always was."""

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


@pytest.fixture
def screenshot_dir(tmp_path):
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def delayed(project, name, identifier):
    delay = {"mode": "fixed", "amount": 1, "unit": "days", "identifier": identifier}
    return build_connector(project, name=name, steps=[{"name": "Later", "delay": delay}])


def test_targets_are_rows_of_pickers(
    live_server, transactional_db, project, member, screenshot_dir
):
    delayed(project, "Webinar reminders", "{{ event.meeting_id }}")
    delayed(project, "Order follow-ups", "{{ event.order_id }}")
    step = build_connector(project, name="Cancellations", steps=[{"name": "Cancel"}]).steps.get()
    base = live_server.url

    with browser_page() as page:
        log_in(page, base)
        page.goto(f"{base}/admin/actions/action/add/?type=cancel_delay&step={step.pk}")
        targets = page.locator(".field-config__targets")
        for _ in range(2):
            targets.get_by_role("button", name="+ Add").click()
        first = targets.locator(".picky-fields-item").first
        first.locator(".picky-field-connector").press_sequentially("webi")
        page.locator(".picky-picker-list li", has_text="Webinar reminders").click()
        first.locator(".picky-field-identifier").focus()
        offered = page.locator(".picky-picker-list li")
        offered.first.wait_for()
        identifiers = offered.all_inner_texts()
        offered.first.click()
        page.screenshot(path=str(screenshot_dir / "cancel_delay_rows.png"), full_page=True)
        page.click("[name=_save]")
        row_error = targets.locator(".picky-fields-item").nth(1).locator(".picky-row-error")
        message = row_error.inner_text()
        marked = (
            targets.locator(".picky-fields-item")
            .nth(1)
            .locator(".picky-field-identifier.picky-invalid")
        )
        marked_count = marked.count()
        page.screenshot(path=str(screenshot_dir / "cancel_delay_row_refused.png"), full_page=True)
        targets.get_by_role("button", name="Remove this item").last.click()
        page.click("[name=_save]")
        page.wait_for_url(lambda url: "/add/" not in url)

    assert identifiers == ["{{ event.meeting_id }}"]
    assert message == "the identifier is required."
    assert marked_count == 1
    action = Action.objects.get(step=step)
    assert action.config["targets"] == [
        {"connector": "Webinar reminders", "identifier": "{{ event.meeting_id }}"}
    ]
