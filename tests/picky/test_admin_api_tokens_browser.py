"""API tokens in a real browser: an admin adds one, copies it from the message once, and
finds only its first characters afterwards.

Screenshots go to $PICKY_SCREENSHOT_DIR when set, else to the test's temporary folder.
"""

import os
import re
from pathlib import Path

import pytest

from picky.models import ApiToken, hash_api_token
from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]


def test_an_admin_adds_a_token_and_sees_it_once(
    live_server, transactional_db, project, member, tmp_path
):
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    with browser_page() as page:
        log_in(page, live_server.url)
        page.goto(f"{live_server.url}/admin/picky/apitoken/add/")
        page.fill("#id_name", "Zoho CRM")
        page.fill("#id_allowed_ip", "203.0.113.7")
        page.screenshot(path=str(folder / "api_token_add.png"), full_page=True)
        page.click("input[name=_save]")
        message = page.locator(".messagelist .warning").inner_text()
        page.screenshot(path=str(folder / "api_token_created.png"), full_page=True)
        raw = re.search(r"pk_[\w-]+", message)[0]
        page.goto(live_server.url + page.locator("#result_list tbody th a").get_attribute("href"))
        page.screenshot(path=str(folder / "api_token_change.png"), full_page=True)
        change_page = page.content()
    token = ApiToken.objects.get()
    assert token.token_hash == hash_api_token(raw) and token.project == project
    assert raw not in change_page and token.token_prefix in change_page
