"""A chat's actions and its contact panel in a real browser: an agent tags the contact,
adds a reminder, locks the chat, snoozes it and replies, and sends a WhatsApp template
outside the 24-hour session; the panel shows the contact's
details and their connector runs. A screenshot of the conversation with its panel is
written to $PICKY_SCREENSHOT_DIR (or the test's folder)."""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from connectors.models import Event, Run
from crm import services as crm
from crm.models import Reminder
from teambox.assignment import assign_users
from teambox.conversations import add_internal_note, open_conversation
from teambox.models import Channel, Conversation, Message
from teambox.services import queue_message
from tests.builders import build_agent, build_connector
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


def session_cookie(user, base):
    """A logged-in session of `user` for the browser."""
    client = Client()
    client.force_login(user)
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"name": settings.SESSION_COOKIE_NAME, "value": value, "url": base}


@pytest.fixture
def desk(transactional_db, project):
    sandbox = Channel.objects.create(project=project, name="Sandbox", kind=Channel.Kind.SANDBOX)
    anita = build_agent(project, "anita").user
    build_agent(project, "bala")
    contact = crm.upsert_contact(
        project,
        "919847012345",
        name="Asha Rao",
        email="asha@example.com",
        attributes={"city": "Kochi", "plan": "Solar 2kW"},
    )
    crm.add_tags(contact, ["lead", "kerala"])
    crm.add_note(contact, "Prefers calls after 5 pm", author=anita)
    chat, _ = open_conversation(sandbox, contact)
    assign_users(chat, [anita])
    queue_message(sandbox, contact, body="Hi Asha, thanks for your order!")
    add_internal_note(chat, "Asked for a discount twice", anita)
    connector = build_connector(project, name="Website leads")
    event = Event.objects.create(
        project=project, connector=connector, payload={}, method="POST", received_at=timezone.now()
    )
    Run.objects.create(
        project=project,
        connector=connector,
        event=event,
        contact=contact,
        status=Run.Status.SUCCEEDED,
    )
    cloud = Channel.objects.create(
        project=project,
        name="WhatsApp",
        kind=Channel.Kind.WHATSAPP_CLOUD,
        credentials={"phone_number_id": "1065", "access_token": "t", "verify_token": "verify-me"},
    )
    old_chat, _ = open_conversation(cloud, contact)
    assign_users(old_chat, [anita])
    return {"anita": anita, "chat": chat, "old_chat": old_chat}


def test_an_agent_works_a_chat_and_its_contact_panel(live_server, desk, screenshot_dir):
    chat, old_chat, base = desk["chat"], desk["old_chat"], live_server.url
    address = f"{base}/teambox/{chat.project.slug}/c/{chat.pk}/"
    cookie = session_cookie(desk["anita"], base)
    with browser_page() as page:
        page.context.add_cookies([cookie])
        page.goto(address)
        panel = page.locator("#contact-panel")
        assert panel.get_by_text("Kochi").is_visible()
        assert panel.get_by_role("link", name="Website leads").count() == 0  # not staff
        assert panel.get_by_text("Website leads").is_visible()

        panel.get_by_role("textbox", name="Add tags").fill("vip")
        panel.get_by_role("button", name="Add", exact=True).click()
        page.wait_for_selector(".flash li:has-text('Tagged vip')")
        panel.get_by_role("button", name="Remove the tag lead").click()
        page.wait_for_selector(".flash li:has-text('Removed the tag lead')")

        panel.get_by_text("Add a reminder").click()
        panel.locator("input[name=text]").fill("Call about the installation")
        panel.locator("input[name=due_at]").fill("2030-01-02T10:30")
        panel.get_by_role("button", name="Add reminder").click()
        page.wait_for_selector(".flash li:has-text('Reminder added')")

        page.get_by_role("button", name="Lock to assignees").click()
        page.wait_for_selector(".flash li:has-text('Only the chat')")

        page.fill(".reply-form textarea", "Your installer comes on Friday.")
        page.click(".reply-form button[type=submit]")
        page.wait_for_selector(".flash li:has-text('Reply to Asha Rao')")
        page.locator("#chat-actions summary", has_text="Assign").click()
        page.screenshot(path=str(screenshot_dir / "conversation_panel.png"))

        page.locator("#chat-actions summary", has_text="Assign").click()
        page.locator("#chat-actions summary", has_text="Snooze").click()
        page.locator("input[name=until]").fill("2030-01-01T09:00")
        page.locator("#chat-actions .menu-form button", has_text="Snooze").click()
        page.wait_for_selector(".flash li:has-text('snoozed')")

        # On WhatsApp, a day after the customer's last message: a template or nothing.
        page.goto(f"{base}/teambox/{chat.project.slug}/c/{old_chat.pk}/")
        assert page.get_by_text("Only an approved template can be sent.").is_visible()
        assert page.locator(".reply-form textarea[name=body]").count() == 0
        page.fill(".reply-form input[name=template]", "order_update")
        page.fill(".reply-form textarea[name=template_values]", "Asha\nA-17")
        page.screenshot(path=str(screenshot_dir / "conversation_template.png"))
        page.click(".reply-form button[type=submit]")
        page.wait_for_selector(".flash li:has-text('Reply to Asha Rao')")
    chat.refresh_from_db()
    assert (chat.status, chat.locked) == (Conversation.Status.SNOOZED, True)
    assert sorted(chat.contact.tags.values_list("name", flat=True)) == ["kerala", "vip"]
    assert Reminder.objects.get().text == "Call about the installation"
    assert Message.objects.filter(body="Your installer comes on Friday.").exists()
    template = Message.objects.get(channel=old_chat.channel)
    assert (template.template, template.template_params) == ("order_update", ["Asha", "A-17"])
