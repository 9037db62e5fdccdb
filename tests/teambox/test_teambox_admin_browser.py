"""The teambox admin in a real browser: the conversation list an agent reads and the
contact page with its timeline; screenshots of both (to $PICKY_SCREENSHOT_DIR when set)."""

import json
import os
from pathlib import Path

import pytest

from picky.models import Membership
from teambox import conversations, services
from teambox.models import Conversation
from tests.builders import build_agent
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


@pytest.fixture
def chats(transactional_db, client, project, sandbox):
    anu = build_agent(project, "anu", role=Membership.Role.AGENT)
    anu.user.is_staff = True
    anu.user.set_password("pw-anu-1")
    anu.user.save()
    for number, name, text in (
        ("919847012345", "Asha", "Where is my order <b>1042</b>?"),
        ("919847000001", "Ravi", "Do you deliver to Kochi?"),
    ):
        body = {"number": number, "name": name, "message": text}
        client.post(sandbox.webhook_path, json.dumps(body), content_type="application/json")
    asha = Conversation.objects.get(contact__name="Asha")
    services.queue_message(sandbox, asha.contact, body="Let me check, Asha.")
    conversations.add_internal_note(asha, "Courier says Friday", anu.user)
    conversations.set_status(Conversation.objects.get(contact__name="Ravi"), "resolved")
    return asha


def test_an_agent_reads_the_conversations_and_a_contacts_timeline(
    live_server, chats, screenshot_dir
):
    base = live_server.url
    with browser_page() as page:
        page.goto(f"{base}/admin/login/?next=/admin/")
        page.fill("#id_username", "anu")
        page.fill("#id_password", "pw-anu-1")
        page.click("input[type=submit]")
        page.wait_for_url(f"{base}/admin/")
        index = page.locator("#content-main").inner_text()

        page.goto(f"{base}/admin/teambox/conversation/")
        rows = page.locator("#result_list tbody tr")
        listing = [rows.nth(n).inner_text() for n in range(rows.count())]
        page.screenshot(path=str(screenshot_dir / "teambox-conversations.png"), full_page=True)

        page.goto(f"{base}/admin/crm/contact/{chats.contact_id}/change/")
        timeline = page.locator(".field-timeline table").inner_text()
        page.screenshot(path=str(screenshot_dir / "contact-timeline.png"), full_page=True)

    assert "Conversations" in index and "Notifications" in index and "Connectors" not in index
    assert len(listing) == 2
    asha_row = next(row for row in listing if "Asha" in row)
    assert "Open" in asha_row and "Anu" in asha_row
    assert "Resolved" in next(row for row in listing if "Ravi" in row)
    lines = timeline.splitlines()
    assert "Internal note" in lines[1] and "Courier says Friday" in lines[1] and "Anu" in lines[1]
    assert "Message sent" in lines[2] and "Let me check, Asha." in lines[2]
    assert "Assignment" in lines[3] and "Anu" in lines[3]
    assert "Message received" in lines[4] and "Where is my order <b>1042</b>?" in lines[4]
