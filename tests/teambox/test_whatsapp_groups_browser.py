"""The WhatsApp groups admin in a real browser: the list with member counts and parents,
a group's page with its members and child groups (screenshots to $PICKY_SCREENSHOT_DIR)."""

import os
from pathlib import Path

import pytest

from teambox.models import Channel, GroupParticipant, WhatsAppGroup
from tests.connectors.test_admin_browser import CHROMIUM, browser_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def screenshot_dir(tmp_path):
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_groups_list_and_a_groups_page(live_server, transactional_db, admin_user, project,
                                        screenshot_dir):  # fmt: skip
    channel = Channel.objects.create(
        project=project, name="Community", kind=Channel.Kind.WHATSAPP_WEB,
        credentials={"base_url": "https://waha.example.com", "session": "default"},
    )  # fmt: skip
    parent = WhatsAppGroup.objects.create(
        channel=channel, gateway_id="120363000000000001@g.us", subject="<b>Technology</b>",
        description="Tips every day", only_admins_post=True,
    )  # fmt: skip
    child = WhatsAppGroup.objects.create(
        channel=channel, gateway_id="120363000000000002@g.us", subject="<b>Technology</b> 1",
        parent=parent, position=1,
    )  # fmt: skip
    GroupParticipant.objects.create(group=parent, number="919000000000", is_admin=True)
    GroupParticipant.objects.create(group=parent, number="919847012345")
    GroupParticipant.objects.create(group=child, number="919847000001")
    base = live_server.url
    with browser_page() as page:
        page.goto(f"{base}/admin/login/?next=/admin/")
        page.fill("#id_username", admin_user.username)
        page.fill("#id_password", "password")
        page.click("input[type=submit]")
        page.wait_for_url(f"{base}/admin/")
        assert "WhatsApp groups" in page.locator("#content-main").inner_text()

        page.goto(f"{base}/admin/teambox/whatsappgroup/")
        rows = page.locator("#result_list tbody tr")
        assert rows.count() == 2
        listing = page.locator("#result_list").inner_text()
        assert "<b>Technology</b> 1" in listing  # escaped, shown as typed
        page.screenshot(path=str(screenshot_dir / "whatsapp_groups_list.png"), full_page=True)

        page.goto(f"{base}/admin/teambox/whatsappgroup/{parent.pk}/change/")
        content = page.locator("#content-main").inner_text()
        assert "919000000000" in content and "919847012345" in content
        assert "919847000001" not in content  # the child's member
        page.get_by_role("link", name="<b>Technology</b> 1").click()
        page.wait_for_url(f"**/whatsappgroup/{child.pk}/change/")
        assert "919847000001" in page.locator("#content-main").inner_text()
        page.goto(f"{base}/admin/teambox/whatsappgroup/{parent.pk}/change/")
        page.screenshot(path=str(screenshot_dir / "whatsapp_group_page.png"), full_page=True)
