"""The connector page in a real browser: beside "Started by" shows only the setting its
choice takes (a channel, a module, a macro button), and a record trigger saves with its
module.

Screenshots go to $PICKY_SCREENSHOT_DIR when set, else to the test's temporary folder.
"""

import os
from pathlib import Path

import pytest

from crm.records.models import Module
from tests.builders import build_connector
from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]

SETTINGS = ("trigger_channel", "trigger_module", "trigger_macro")


def shown_settings(page):
    return [name for name in SETTINGS if page.locator(f"#id_{name}").is_visible()]


def test_a_record_trigger_is_chosen_with_its_module(
    live_server, transactional_db, project, member, tmp_path
):
    deals = Module.objects.get(project=project, name="Deals")
    connector = build_connector(project, name="New deals")
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    with browser_page() as page:
        log_in(page, live_server.url)
        page.goto(f"{live_server.url}/admin/connectors/connector/{connector.pk}/change/")
        assert shown_settings(page) == []

        page.select_option("#id_trigger", "inbound_message")
        assert shown_settings(page) == ["trigger_channel"]
        page.select_option("#id_trigger", "macro_button")
        assert shown_settings(page) == ["trigger_macro"]
        page.select_option("#id_trigger", "record_created")
        assert shown_settings(page) == ["trigger_module"]
        page.select_option("#id_trigger_module", label="Deals")
        page.locator("#id_trigger").scroll_into_view_if_needed()
        page.screenshot(path=str(folder / "connector-record-trigger.png"), full_page=True)

        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")
        assert shown_settings(page) == ["trigger_module"]
    connector.refresh_from_db()
    assert (connector.trigger, connector.trigger_module) == ("record_created", deals)
