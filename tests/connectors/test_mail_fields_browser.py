"""The parsing template on the connector page in a real browser: rows typed and chosen (no
JSON), a bad pattern refused at its row, the Test box against a pasted mail (its answer
shown as text), and the rows saved."""

import os
from pathlib import Path

import pytest

from connectors.models import Connector
from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]

MAIL = (
    "From: Shop <orders@shop.example>\n"
    "Subject: New order #A-1047\n"
    "Content-Type: text/plain\n\n"
    "Order for <b>Asha</b>, total 1,250.00\n"
)


@pytest.fixture
def screenshot_dir(tmp_path):
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_rows_and_the_test_box(live_server, transactional_db, project, member, screenshot_dir):
    connector = Connector.objects.create(project=project, name="Orders by mail")
    base = live_server.url
    with browser_page() as page:
        log_in(page, base)
        page.goto(f"{base}/admin/connectors/connector/{connector.pk}/change/")
        rows = page.locator(".field-mail_fields")
        assert not rows.locator("textarea").is_visible()
        rows.get_by_role("button", name="+ Add").click()
        rows.locator(".picky-field-name").nth(0).fill("order")
        rows.locator(".picky-field-pattern").nth(0).fill(r"#(\S+)")
        rows.get_by_role("button", name="+ Add").click()
        rows.locator(".picky-field-name").nth(1).fill("buyer")
        rows.locator(".picky-field-where").nth(1).select_option("text")
        rows.locator(".picky-field-pattern").nth(1).fill(r"for (\S+),")

        test_box = page.locator(".picky-mail-test")
        test_box.locator("textarea").fill(MAIL)
        test_box.get_by_role("button", name="Test").click()
        result = test_box.locator(".picky-mail-test-result")
        result.filter(has_text="A-1047").wait_for()
        assert '"buyer": "<b>Asha</b>"' in result.inner_text()  # shown as text, not markup
        assert result.locator("b").count() == 0
        page.screenshot(path=str(screenshot_dir / "mail-fields-test.png"), full_page=True)

        # A pattern RE2 cannot take is refused at its row when saving.
        rows.locator(".picky-field-pattern").nth(1).fill(r"(?<=for )\S+")
        page.click("input[name=_continue]")
        bad = page.locator(".field-mail_fields .picky-item.picky-invalid")
        bad.wait_for()
        assert "look-behind" in bad.locator(".picky-row-error").inner_text()
        page.screenshot(path=str(screenshot_dir / "mail-fields-refused.png"), full_page=True)

        page.locator(".field-mail_fields .picky-field-pattern").nth(1).fill(r"for (\S+),")
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")
    connector.refresh_from_db()
    assert connector.mail_fields == [
        {"name": "order", "where": "subject", "pattern": r"#(\S+)"},
        {"name": "buyer", "where": "text", "pattern": r"for (\S+),"},
    ]
