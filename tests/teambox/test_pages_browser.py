"""The teambox pages in a real browser (issue 19's "Tests in a real browser"): a webhook's
assign_chat gives agent A a chat with an event card; A's open inbox shows it without a
reload; A opens it, sees the card, opens its inline button in the sandboxed drawer (a
local page) and replies through the sandbox channel, the reply showing its status;
agent B gets 404 for the chat's URL; an instant notification reaches A's drawer and
"Clear all" empties it.

Screenshots of the inbox, the conversation with its card, the card's drawer and the
notifications drawer are written to $PICKY_SCREENSHOT_DIR (CI keeps var/ci-screenshots/),
else to the test's temporary folder; the README's "The agents' inbox" shows the copies in
docs/screenshots/, refreshed with PICKY_SCREENSHOT_DIR=docs/screenshots.
"""

import os
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.test import Client

from teambox.models import Channel, Conversation, Message
from tests.builders import build_agent, build_connector
from tests.connectors.test_admin_browser import CHROMIUM, browser_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]

MAPPING = {"number": "{{ event.phone }}", "name": "{{ event.name }}"}
ORDER = {"phone": "+91 98470 12345", "name": "Asha Rao", "order": "A-17", "total": "4,980"}
# Live refresh polls every few seconds: waits allow a few polls.
LIVE_WAIT = 20_000
# A kept-alive webhook connection would keep a live server thread, and its database
# connection, open past the test (PostgreSQL then refuses to drop the test database).
CLOSE = {"Connection": "close"}


@pytest.fixture
def eager_runs():
    """Runs and sends execute in the web server's thread (no worker)."""
    from picky.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def session_cookie(user, base):
    client = Client()
    client.force_login(user)
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"name": settings.SESSION_COOKIE_NAME, "value": value, "url": base}


@pytest.fixture
def shop(transactional_db, project, httpserver, eager_runs):
    """Agents anita and bala, a sandbox channel, a connector whose assign_chat gives the
    customer's chat to anita with an order card (its inline button opens a local page),
    and one that notifies anita."""
    httpserver.expect_request("/orders/A-17").respond_with_data(
        "<!doctype html><title>Order A-17</title><h1>Order A-17: 2 solar lamps</h1>",
        content_type="text/html",
    )
    Channel.objects.create(project=project, name="Sandbox", kind=Channel.Kind.SANDBOX)
    anita = build_agent(project, "anita").user
    bala = build_agent(project, "bala").user
    card = {
        "subject": "Order {{ event.order }} paid",
        "body": "2 × Solar lamp, ₹{{ event.total }}",
        "background_colour": "#fff8e1",
        "border_colour": "orange",
        "buttons": [
            {
                "name": "Open order",
                "url": httpserver.url_for("/orders/{{ event.order }}"),
                "opens": "inline",
                "background_colour": "#1a7f37",
                "text_colour": "white",
            },
            {"name": "Invoice", "url": "https://shop.example/invoices/{{ event.order }}"},
        ],
    }
    assign = {
        "channel": "Sandbox",
        "assign_by": "chosen",
        "users": ["anita"],
        "internal_message": "Paid order {{ event.order }}: check the address",
        "event_feed": card,
    }
    notify = {
        "send_to": "agents",
        "agents": ["anita"],
        "title": "Order {{ event.order }} needs a call",
        "description": "{{ event.name }} asked for a call back.",
    }
    steps = [{"name": "Hand to Anita", "actions": [("assign_chat", assign)]}]
    orders = build_connector(project, "Orders", steps=steps, field_mapping=MAPPING)
    steps = [{"name": "Tell Anita", "actions": [("send_instant_notification", notify)]}]
    calls = build_connector(project, "Call backs", steps=steps, field_mapping=MAPPING)
    return {"anita": anita, "bala": bala, "orders": orders, "calls": calls}


def test_an_agent_s_day_in_the_browser(live_server, project, shop, tmp_path):
    screenshots = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    base = live_server.url
    inbox = f"{base}/teambox/{project.slug}/"
    cookies = {name: session_cookie(shop[name], base) for name in ("anita", "bala")}
    screenshots.mkdir(parents=True, exist_ok=True)
    with browser_page() as page:
        page.context.add_cookies([cookies["anita"]])
        page.goto(inbox)
        assert page.locator(".chat-row").count() == 0

        # The webhook runs Orders: its assign_chat gives Anita the chat; her open inbox
        # shows it without a reload.
        response = requests.post(
            f"{base}/hooks/{shop['orders'].token}", json=ORDER, timeout=30, headers=CLOSE
        )
        assert response.status_code == 200, response.text
        row = page.locator(".chat-row", has_text="Asha Rao")
        row.wait_for(timeout=LIVE_WAIT)
        page.screenshot(path=str(screenshots / "teambox-inbox.png"))

        # The chat, its card, and the card's inline button in the sandboxed drawer.
        row.locator("a").click()
        card = page.locator(".entry.card", has_text="Order A-17 paid")
        card.wait_for()
        assert "Paid order A-17: check the address" in page.inner_text("#timeline")
        page.screenshot(path=str(screenshots / "teambox-conversation.png"))
        card.get_by_role("link", name="Open order").click()
        page.wait_for_selector("#card-drawer.open")
        frame = page.frame(name="card-frame")
        frame.wait_for_selector("text=Order A-17: 2 solar lamps")
        page.screenshot(path=str(screenshots / "teambox-card-drawer.png"))
        page.click("#card-drawer-close")

        # A reply goes out through the sandbox channel and shows with its status.
        page.fill(".reply-form textarea", "Hi Asha, your lamps leave today.")
        page.click(".reply-form button[type=submit]")
        sent = page.locator(".message-out", has_text="your lamps leave today")
        sent.wait_for()
        sent.locator(".delivery-delivered").wait_for(timeout=LIVE_WAIT)
        chat_url = page.url.split("?")[0]

        # Bala, another agent, gets 404 for the chat's URL.
        page.context.clear_cookies()
        page.context.add_cookies([cookies["bala"]])
        assert page.goto(chat_url).status == 404
        page.context.clear_cookies()
        page.context.add_cookies([cookies["anita"]])
        page.goto(inbox)

        # An instant notification reaches Anita's drawer; "Clear all" empties it.
        response = requests.post(
            f"{base}/hooks/{shop['calls'].token}", json=ORDER, timeout=30, headers=CLOSE
        )
        assert response.status_code == 200, response.text
        page.locator("#notification-count", has_text="1").wait_for(timeout=LIVE_WAIT)
        page.click("#notification-drawer summary")
        page.locator(".notification", has_text="Order A-17 needs a call").wait_for()
        page.screenshot(path=str(screenshots / "teambox-notifications.png"))
        page.click("#notification-drawer button:has-text('Clear all')")
        page.locator("#notification-list", has_text="No new notifications.").wait_for()

    chat = Conversation.objects.get(project=project)
    assert list(chat.assignees.values_list("username", flat=True)) == ["anita"]
    reply = Message.objects.get(direction=Message.Direction.OUT, contact=chat.contact)
    assert (reply.body, reply.status) == ("Hi Asha, your lamps leave today.", "delivered")
