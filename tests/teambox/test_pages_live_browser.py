"""The live refresh in a real browser: a message posted to the sandbox channel's webhook
shows in the open chat and in the inbox without a reload, a notification reaches the
drawer (and the browser, once the agent allowed it) and "Clear all" empties it, the
presence switch changes the Agent row, and a kicked agent's open chat says so.

Screenshots go to $PICKY_SCREENSHOT_DIR when set, else to the test's temporary folder.
"""

import os
import threading
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.test import Client

from crm import services as crm
from teambox.assignment import assign_users, remove_assignees
from teambox.conversations import open_conversation
from teambox.models import Agent, Channel, Department, Notification
from teambox.notifications import notify_agents
from tests.builders import build_agent
from tests.connectors.test_admin_browser import CHROMIUM, browser_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]

LIVE_WAIT = 15_000  # a few polls
# Records what the page asks of the Notification API; permission starts unasked.
FAKE_NOTIFICATIONS = """
window.shownNotifications = [];
window.Notification = class {
  constructor(title, options) { window.shownNotifications.push([title, options.body]); }
  static requestPermission() { this.permission = "granted"; return Promise.resolve("granted"); }
};
window.Notification.permission = "default";
"""


def in_another_thread(work):
    """Playwright's sync API runs an event loop in the test's thread, where the ORM
    refuses to run: database changes during the browser session go through a thread."""

    def run():
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


@pytest.fixture
def desk(transactional_db, project, eager_celery):
    sandbox = Channel.objects.create(project=project, name="Sandbox", kind=Channel.Kind.SANDBOX)
    anita = build_agent(project, "anita").user
    contact = crm.upsert_contact(project, "919847012345", name="Asha Rao")
    chat, _ = open_conversation(sandbox, contact)
    # Support's chat: Anita, not in Support, sees it only while it is hers.
    chat.department = Department.objects.create(project=project, name="Support")
    chat.save(update_fields=["department"])
    assign_users(chat, [anita])
    client = Client()
    client.force_login(anita)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"sandbox": sandbox, "anita": anita, "chat": chat, "cookie": cookie}


def test_the_pages_follow_what_happens_without_a_reload(live_server, project, desk, tmp_path):
    base = live_server.url
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    webhook = base + desk["sandbox"].webhook_path
    chat_url = f"{base}/teambox/{project.slug}/c/{desk['chat'].pk}/"
    anita = desk["anita"]
    with browser_page() as page:
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": desk["cookie"], "url": base}]
        )
        page.add_init_script(FAKE_NOTIFICATIONS)

        # The open chat shows the customer's new message.
        page.goto(chat_url)
        requests.post(webhook, json={"number": "919847012345", "message": "Lamp ok?"}, timeout=30)
        page.locator("#timeline", has_text="Lamp ok?").wait_for(timeout=LIVE_WAIT)
        page.screenshot(path=str(folder / "teambox-live-chat.png"))

        # The inbox shows a new customer's chat (routed to Anita, the one agent online).
        page.goto(f"{base}/teambox/{project.slug}/")
        assert page.locator(".chat-row", has_text="Ravi").count() == 0
        new_lead = {"number": "919900011122", "name": "Ravi", "message": "Price of the lamp?"}
        requests.post(webhook, json=new_lead, timeout=30)
        page.locator(".chat-row", has_text="Price of the lamp?").wait_for(timeout=LIVE_WAIT)

        # Presence: away, from the header's switch.
        page.click(".presence-switch button[value=away]")
        page.locator(".presence-switch[data-presence=away]").wait_for(timeout=LIVE_WAIT)

        # Browser notifications are asked for from a button, then a notification that
        # asks for one shows in the drawer and in the browser.
        page.click("#notification-drawer summary")
        page.click("#notification-permission")
        page.locator("#notification-permission").wait_for(state="hidden")
        in_another_thread(
            lambda: notify_agents(
                project,
                [anita],
                "Call <Asha> back",
                "About order A-17",
                browser=True,
                contact=desk["chat"].contact,
                record_id="A-17",
            )
        )
        item = page.locator(".notification", has_text="Call <Asha> back")
        item.wait_for(timeout=LIVE_WAIT)
        assert "Record A-17" in item.inner_text()
        assert page.inner_text("#notification-count") == "1"
        page.wait_for_function("window.shownNotifications.length === 1")
        assert page.evaluate("window.shownNotifications") == [
            ["Call <Asha> back", "About order A-17"]
        ]
        page.screenshot(path=str(folder / "teambox-live-drawer.png"))
        page.click("#notification-drawer button:has-text('Clear all')")
        page.locator("#notification-list", has_text="No new notifications.").wait_for()
        assert page.locator("#notification-count").is_hidden()

        # Kicked from the open chat: the page says so at the next poll.
        page.goto(chat_url)
        page.locator("#timeline", has_text="Lamp ok?").wait_for()
        in_another_thread(lambda: remove_assignees(desk["chat"], [anita]))
        page.locator(".lost-access").wait_for(timeout=LIVE_WAIT)
        assert page.inner_text(".lost-access") == "You no longer have access to this chat."
        assert page.locator("#timeline").count() == 0
        assert page.locator(f".chat-row[data-conversation='{desk['chat'].pk}']").count() == 0
        page.screenshot(path=str(folder / "teambox-live-lost.png"))

    agent = Agent.objects.get(project=project, user=anita)
    assert agent.presence == Agent.Presence.AWAY
    assert not Notification.objects.filter(user=anita, read_at__isnull=True).exists()
