"""Unsaved edits are not lost without a word: leaving a change form with edits through a
link ("Add an action" on a step page, "Filters & actions" on the connector page) asks
first; without edits the link just goes.

Screenshots go to $PICKY_SCREENSHOT_DIR when set, else to the test's temporary folder.
"""

import os
from pathlib import Path

import pytest

from tests.builders import build_connector
from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]


def test_leaving_with_unsaved_edits_asks_first(
    live_server, transactional_db, project, member, tmp_path
):
    connector = build_connector(
        project, name="Website leads", steps=[{"name": "Thank the lead", "actions": []}]
    )
    step = connector.steps.get()
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    dialogs = []
    with browser_page() as page:

        def answer(dialog):
            dialogs.append(dialog.message)
            if len(dialogs) == 1:
                dialog.dismiss()  # stay, keep the edit
            else:
                dialog.accept()

        page.on("dialog", answer)
        log_in(page, base)
        step_url = f"{base}/admin/connectors/step/{step.pk}/change/"

        # No edit: the link just goes.
        page.goto(step_url)
        page.click("#add-action")
        page.wait_for_url("**/admin/actions/action/add/**")
        assert dialogs == []

        # An edit, then the link: asked; staying keeps the edit.
        page.goto(step_url)
        page.fill("#id_name", "Thank the lead warmly")
        page.screenshot(path=str(folder / "unsaved_step.png"), full_page=True)
        page.click("#add-action")
        page.wait_for_timeout(200)
        assert page.url == step_url
        assert page.input_value("#id_name") == "Thank the lead warmly"

        # Saved: no question any more.
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")
        page.click("#add-action")
        page.wait_for_url("**/admin/actions/action/add/**")

        # The connector page: an edit, then "Filters & actions", confirmed: it goes.
        page.goto(f"{base}/admin/connectors/connector/{connector.pk}/change/")
        page.fill("#id_description", "Leads from the website form")
        page.get_by_role("link", name="Filters & actions").click()
        page.wait_for_url(f"**/admin/connectors/step/{step.pk}/change/")
    message = "You have unsaved changes on this page. Leave without saving them?"
    assert dialogs == [message, message]
    step.refresh_from_db()
    connector.refresh_from_db()
    assert step.name == "Thank the lead warmly"
    assert connector.description == ""
