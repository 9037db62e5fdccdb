"""A sequence built in the admin in a real browser: messages added one by one, each
showing the fields of its kind and timing only, saved, one moved to the top, saved; then
the page with its subscribers and each step's figures (sequence-admin.png, to
$PICKY_SCREENSHOT_DIR when set: the README tour shows it)."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from crm import services as crm
from journeys.sequences import services as sequences
from journeys.sequences.models import Sequence
from journeys.sequences.sweep import sweep_due_deliveries
from picky.models import Membership
from teambox.models import Message
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
def meera(transactional_db, project, sandbox):
    user = get_user_model().objects.create_user("meera", password="pw-meera-1", is_staff=True)
    Membership.objects.create(project=project, user=user, role=Membership.Role.ADMIN)
    return user


def log_in(page, base, url):
    page.goto(f"{base}/admin/login/?next={url.removeprefix(base)}")
    page.fill("#id_username", "meera")
    page.fill("#id_password", "pw-meera-1")
    page.click("input[type=submit]")
    page.wait_for_url(url)


def visible(page, index, field):
    return page.locator(f"#messages-{index} .form-row.field-{field}").is_visible()


def test_a_sequence_is_built_in_order_and_shows_its_figures(
    live_server, project, sandbox, meera, screenshot_dir
):
    base = live_server.url
    with browser_page() as page:
        log_in(page, base, f"{base}/admin/journeys/sequence/add/")
        page.select_option("#id_project", str(project.pk))
        page.fill("#id_name", "Bike buyers")
        page.select_option("#id_channel", str(sandbox.pk))
        add = page.locator("#messages-group .add-row a")

        add.click()
        page.fill("#id_messages-0-text", "Tips for your first ride, {{ contact.name }}")
        page.fill("#id_messages-0-delay_amount", "2")
        shown_text = (visible(page, 0, "text"), visible(page, 0, "template"))
        shown_after = (visible(page, 0, "delay_amount"), visible(page, 0, "day"))

        add.click()
        page.select_option("#id_messages-1-kind", "template")
        page.fill("#id_messages-1-template", "service_reminder")
        page.fill("#id_messages-1-template_params", "{{ contact.name }}\nfree check-up")
        page.select_option("#id_messages-1-timing", "on_day")
        page.fill("#id_messages-1-day", "30")
        page.fill("#id_messages-1-send_time", "10:00")
        page.check("#id_messages-1-weekdays_5")
        shown_template = (visible(page, 1, "text"), visible(page, 1, "template_params"))
        shown_on_day = (visible(page, 1, "delay_amount"), visible(page, 1, "day"))

        add.click()
        page.fill("#id_messages-2-text", "Welcome aboard, {{ contact.name }}!")
        page.select_option("#id_messages-2-delay_unit", "minutes")
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")
        change_url = page.url
        # The welcome goes first: moved to the top of the saved messages, and saved.
        page.locator("#messages-2 .sort .move-begin").click()
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")

    # Five riders subscribed three days ago, one of whom left; the welcomes went out.
    sequence = Sequence.objects.get(name="Bike buyers")
    for n in range(5):
        contact = crm.upsert_contact(project, f"91984701234{n}", name=f"Rider {n}")
        with time_machine.travel(timezone.now() - timedelta(days=3)):
            sequences.subscribe(sequence, contact)
    sequences.unsubscribe(sequence, contact)
    sweep_due_deliveries()
    Message.objects.filter(contact__name="Rider 0").update(status="read")

    with browser_page() as page:
        log_in(page, base, change_url)
        page.wait_for_selector(".picky-sequence-figures")
        page.screenshot(path=str(screenshot_dir / "sequence-admin.png"), full_page=True)
        figures = page.locator(".picky-sequence-figures tbody tr").all_inner_texts()

    assert shown_text == (True, False) and shown_after == (True, False)
    assert shown_template == (False, True) and shown_on_day == (False, True)
    steps = list(sequence.messages.order_by("position"))
    assert [step.kind for step in steps] == ["text", "text", "template"]
    assert steps[0].text.startswith("Welcome") and steps[0].delay_unit == "minutes"
    assert steps[2].template_params == ["{{ contact.name }}", "free check-up"]
    assert steps[2].weekdays == [5]
    assert figures[0].split("\t")[3:] == ["0", "4", "4", "1", "0", "1"]
