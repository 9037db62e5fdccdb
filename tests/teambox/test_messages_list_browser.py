"""The Messages list in a real browser: a long text stays on a few lines at a readable
width, and a long error is shown shortened with the whole of it in its title.

The screenshot goes to $PICKY_SCREENSHOT_DIR when set, else to the test's temporary folder.
"""

import os
from pathlib import Path

import pytest

from crm import services as crm
from teambox.models import Channel, Message
from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]

TEXT = (
    "Hi Asha Nair, thanks for asking about the Solar Lamp! Our team will call you on "
    "+91 98470 12345 within the hour to talk about prices, delivery and installation."
)
ERROR = (
    "The WhatsApp Cloud API refused the message: (#131026) Message undeliverable: the "
    "recipient's phone number is not a WhatsApp number, or they have not accepted the "
    "new Terms of Service."
)


def test_long_texts_and_errors_are_readable(
    live_server, transactional_db, project, member, tmp_path
):
    channel = Channel.objects.create(project=project, name="Shop WhatsApp", kind="sandbox")
    contact = crm.upsert_contact(project, "919847012345", name="Asha Nair")
    for status, error in (("failed", ERROR), ("delivered", "")):
        Message.objects.create(
            project=project,
            channel=channel,
            contact=contact,
            direction="out",
            address=contact.number,
            body=TEXT,
            status=status,
            error=error,
        )
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    with browser_page() as page:
        log_in(page, live_server.url)
        page.goto(f"{live_server.url}/admin/teambox/message/")
        page.screenshot(path=str(folder / "messages.png"), full_page=True)
        text_cell = page.locator("td.field-short_text").first
        error_cell = page.locator("td.field-outcome", has_text="Failed")
        text_box = text_cell.bounding_box()
        line_height = float(
            text_cell.evaluate("cell => parseFloat(getComputedStyle(cell).lineHeight)")
        )
        error_title = error_cell.locator("span").get_attribute("title")
        error_shown = error_cell.inner_text()
        hidden_width = page.evaluate(
            "(r => r.scrollWidth - r.clientWidth)(document.querySelector('#changelist .results'))"
        )
    # A readable column: a few lines high, not one word per line.
    assert text_box["width"] >= 200
    assert text_box["height"] <= 6 * line_height  # four lines and the padding
    assert error_title == ERROR
    assert error_shown.endswith("…") and len(error_shown) < len(ERROR)
    assert hidden_width <= 0  # no column cut off at the right edge
