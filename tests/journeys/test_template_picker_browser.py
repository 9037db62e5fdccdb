"""The attribute picker on a sequence message in a real browser: the `{ }` button of the
message text opens the contact's fields (its attribute keys from the project's contacts)
and inserts the chosen one at the cursor; the page saves it. A flow's page offers the
answer too (screenshots to $PICKY_SCREENSHOT_DIR when set)."""

import os
from pathlib import Path

import pytest

from crm.models import Contact
from journeys.sequences.models import Sequence
from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in
from tests.journeys.flow_builders import onboarding

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def screenshot_dir(tmp_path):
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_contact_attribute_is_inserted_into_a_sequence_message(
    live_server, transactional_db, project, member, sandbox, screenshot_dir
):
    Contact.objects.create(project=project, number="919847012345", attributes={"city": "Kochi"})
    sequence = Sequence.objects.create(project=project, name="Welcome", channel=sandbox)
    message = sequence.messages.create(kind="text", text="Hi , see you soon")
    flow = onboarding(project)
    base = live_server.url

    with browser_page() as page:
        log_in(page, base)
        page.goto(f"{base}/admin/journeys/sequence/{sequence.pk}/change/")
        text = page.locator("[name=messages-0-text]")
        text.click()
        text.press("Home")
        for _ in range(3):
            text.press("ArrowRight")  # after "Hi "
        page.locator(".field-text .picky-insert").first.click()
        panel = page.locator(".picky-attr-panel")
        groups = panel.locator(".picky-attr-group h4").all_inner_texts()
        page.screenshot(path=str(screenshot_dir / "sequence_attribute_picker.png"), full_page=True)
        panel.locator(".picky-attr-choose", has_text="contact.attributes.city").click()
        typed = text.input_value()
        page.click("[name=_save]")
        page.wait_for_url(f"{base}/admin/journeys/sequence/")

        page.goto(f"{base}/admin/journeys/flow/{flow.pk}/change/")
        page.locator(".field-timeout_message .picky-insert").click()
        flow_groups = page.locator(".picky-attr-panel .picky-attr-group h4").all_inner_texts()
        page.screenshot(path=str(screenshot_dir / "flow_attribute_picker.png"), full_page=True)

    assert groups == ["The contact"]
    assert typed == "Hi {{ contact.attributes.city }}, see you soon"
    message.refresh_from_db()
    assert message.text == "Hi {{ contact.attributes.city }}, see you soon"
    assert flow_groups == ["The contact", "The flow"]
