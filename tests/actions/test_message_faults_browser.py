"""The messaging faults in a real browser: a channel name the project does not have is
refused at its field with the project's channels, a skipped message reads as a warning in
the run's timeline, and a member's phone number is edited in the project's members."""

import os
from pathlib import Path

import pytest

from connectors import engine
from connectors.services import record_event
from picky.models import Membership
from teambox.models import Channel
from tests.builders import build_connector
from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in

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
def lead_run(transactional_db, project, member):
    Channel.objects.create(project=project, name="Sandbox", kind=Channel.Kind.SANDBOX)
    connector = build_connector(
        project,
        name="Website leads",
        field_mapping={"number": "{{ event.phone }}", "email": "{{ event.email }}"},
        steps=[
            {
                "name": "New lead",
                "actions": [
                    (
                        "send_message",
                        {"channel": "Sandbox", "to": ["{{ contact.number }}"], "text": "Thanks!"},
                    )
                ],
            }
        ],
    )
    event = record_event(
        connector, {"email": "asha@shop.example"}, method="POST", headers={}, source_ip=None
    )
    return engine.process_event(event.pk)


def test_messaging_faults_in_the_browser(live_server, lead_run, project, member, screenshot_dir):
    step = lead_run.connector.steps.get()
    base = live_server.url
    with browser_page() as page:
        log_in(page, base)

        page.goto(f"{base}/admin/actions/action/add/?type=send_message&step={step.pk}")
        page.fill("#id_config__channel", "WhatsApp")
        recipients = page.locator(".field-config__to")
        recipients.get_by_role("button", name="+ Add").click()
        recipients.locator(".picky-item-value").fill("{{ contact.number }}")
        page.fill("#id_config__text", "Thanks!")
        page.click("input[name=_save]")
        error = page.locator(".field-config__channel .errorlist")
        assert error.inner_text() == (
            "No channel named 'WhatsApp' in this project. Its channels: Sandbox."
        )
        assert page.locator("#id_config__if_no_recipient").is_visible()
        page.screenshot(path=str(screenshot_dir / "action_channel_error.png"), full_page=True)

        page.goto(f"{base}/admin/connectors/run/{lead_run.pk}/change/")
        warning = page.locator(".picky-line-skipped .picky-error-box")
        assert warning.inner_text() == (
            'This lead has no phone number, so the message "Send Message" was not sent.'
        )
        # A warning's colours, not an error's.
        assert warning.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 241, 204)"
        page.screenshot(path=str(screenshot_dir / "run_skipped_message.png"), full_page=True)

        page.goto(f"{base}/admin/picky/project/{project.pk}/change/")
        page.fill("#id_memberships-0-phone", "+91 98000 00099")
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")
        page.screenshot(path=str(screenshot_dir / "project_member_phone.png"), full_page=True)
    assert Membership.objects.get(user=member).phone == "919800000099"
