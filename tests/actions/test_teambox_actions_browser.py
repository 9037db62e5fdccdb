"""The teambox actions in the admin, in a real browser: an Assign Chat action naming an
agent the project lacks is refused at its field with the project's agents, then saved; an
event-feed button that is no web address is refused; the Agents list shows the reference
number actions name agents by."""

import os
from pathlib import Path

import pytest

from actions.models import Action
from teambox.models import Channel
from tests.builders import build_agent, build_connector
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


def test_assign_chat_is_refused_at_its_field_then_saved(
    live_server, transactional_db, project, member, screenshot_dir
):
    Channel.objects.create(project=project, name="WhatsApp", kind=Channel.Kind.SANDBOX)
    ravi = build_agent(project, "ravi")
    step = build_connector(project, name="Unhappy customers", steps=[{"name": "Hand over"}])
    step = step.steps.get()
    base = live_server.url

    with browser_page() as page:
        log_in(page, base)
        page.goto(f"{base}/admin/actions/action/add/?type=assign_chat&step={step.pk}")
        page.fill("[name=config__channel]", "whatsapp")
        page.select_option("[name=config__assign_by]", "chosen")
        users = page.locator(".field-config__users")
        for name in ("ravi", "ghost"):
            users.get_by_role("button", name="+ Add").click()
            users.locator(".picky-item-value").last.fill(name)
            users.locator(".picky-item-value").last.press("Tab")  # leaves the box: its names close
        page.fill("[name=config__internal_message]", "Order {{ event.order }} arrived damaged")
        page.click("[name=_save]")
        error = page.locator(".errorlist").filter(has_text="ghost").inner_text()
        page.screenshot(path=str(screenshot_dir / "assign_chat_refused.png"), full_page=True)

        users.get_by_role("button", name="Remove this item").last.click()
        page.click("[name=_save]")
        page.wait_for_url(lambda url: "/add/" not in url)

        page.goto(f"{base}/admin/actions/action/add/?type=add_event_feed&step={step.pk}")
        page.fill("[name=config__subject]", "Order {{ event.order }}")
        # The buttons typed as JSON: the rows' "Edit as JSON".
        page.locator(".field-config__buttons").get_by_role("button", name="Edit as JSON").click()
        page.fill(
            "[name=config__buttons]",
            '[{"name": "Track", "url": "javascript:alert(1)", "background_colour": "#1a7f37"}]',
        )
        page.click("[name=_save]")
        button_error = page.locator(".errorlist").inner_text()
        page.screenshot(path=str(screenshot_dir / "event_feed_refused.png"), full_page=True)

        page.goto(f"{base}/admin/teambox/agent/")
        row = page.locator("#result_list tbody tr").first.inner_text()
        page.screenshot(path=str(screenshot_dir / "agents_reference_number.png"), full_page=True)

    assert error == "No agent of this project is called 'ghost'. Its agents: ravi."
    assert button_error == (
        "The button URL 'javascript:alert(1)' is not a web address (one starting with https://)."
    )
    action = Action.objects.get(step=step)
    assert (action.type, action.config["users"], action.config["assign_by"]) == (
        "assign_chat",
        ["ravi"],
        "chosen",
    )
    assert str(ravi.user_id) in row.split()
