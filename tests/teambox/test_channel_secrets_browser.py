"""A channel's page in a real browser: the saved secrets read as masked, never in clear.

The screenshot goes to $PICKY_SCREENSHOT_DIR when set, else to the test's temporary folder.
"""

import os
from pathlib import Path

import pytest

from picky.secret_values import MASK
from teambox.models import Channel
from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]


def test_channel_page_shows_secrets_masked(
    live_server, transactional_db, project, member, tmp_path
):
    channel = Channel.objects.create(
        project=project,
        name="WhatsApp",
        kind="whatsapp_cloud",
        credentials={
            "phone_number_id": "106540352242922",
            "access_token": "EAAG-access-never-shown",
            "verify_token": "verify-never-shown",
            "app_secret": "app-secret-never-shown",
        },
    )
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    with browser_page() as page:
        log_in(page, live_server.url)
        page.goto(f"{live_server.url}/admin/teambox/channel/{channel.pk}/change/")
        shown = page.input_value("#id_credentials")
        page.locator("#id_credentials").scroll_into_view_if_needed()
        page.screenshot(path=str(folder / "channel_secrets.png"), full_page=True)
        html = page.content()
    assert shown.count(MASK) == 3 and "106540352242922" in shown
    assert "never-shown" not in html
