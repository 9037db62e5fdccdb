"""The connector builder in a real browser: copy the URL, read the paths tree,
reorder actions, and screenshots of the connector and run pages.

Screenshots are written to $PICKY_SCREENSHOT_DIR when set (to look at them),
else to the test's temporary folder.
"""

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from connectors import engine
from connectors.models import Event
from connectors.services import map_first_sample
from tests.builders import build_connector

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]

LEAD = {
    "name": "Asha Nair",
    "email": "asha@example.com",
    "phone": "+91 98470 12345",
    "state": "Kerala",
    "Product Interested": "Solar lamp",
    "customer": {"city": "Kochi", "tags": ["new", "web"]},
}


@pytest.fixture
def screenshot_dir(tmp_path):
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def builder_data(transactional_db, project, member):
    connector = build_connector(
        project,
        name="Website leads",
        field_mapping={"number": "{{ event.phone }}", "name": "{{ event.name }}"},
        steps=[
            {
                "name": "Thank the lead",
                "actions": [
                    (
                        "send_email",
                        {
                            "to": ["{{ event.email }}"],
                            "subject": "Thanks, {{ event.name }}",
                            "body": 'We will call you about the {{ event."Product Interested" }}.',
                        },
                    ),
                    ("set_variable", {"name": "region", "value": "{{ event.state }}"}),
                ],
            },
            {
                "name": "Kerala leads",
                "filters": [[{"field": "{{ event.state }}", "op": "equals", "value": "Kerala"}]],
                "actions": [("trigger_counter", {"name": "kerala_leads"})],
            },
        ],
    )
    event = Event.objects.create(
        project=project,
        connector=connector,
        payload=LEAD,
        method="POST",
        source_ip="203.0.113.7",
        received_at=connector.created_at,
    )
    map_first_sample(connector, LEAD)
    run = engine.process_event(event.pk)
    step = connector.steps.get(position=0)
    return {"connector": connector, "step": step, "run": run, "actions": list(step.actions.all())}


@contextmanager
def browser_page():
    """A Chromium page. Playwright's sync API runs an event loop in this thread, so
    the database is read before and after this block, never inside it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000},
            permissions=["clipboard-read", "clipboard-write"],
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def log_in(page, base_url):
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", "member")
    page.fill("#id_password", "pw-member-1")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")


def test_build_a_connector_in_the_browser(live_server, builder_data, screenshot_dir):
    connector, step, run = builder_data["connector"], builder_data["step"], builder_data["run"]
    first_action, second_action = builder_data["actions"]
    with browser_page() as page:
        drive_the_builder(page, live_server.url, connector, step, run, screenshot_dir)
    first_action.refresh_from_db()
    second_action.refresh_from_db()
    assert second_action.position < first_action.position


def drive_the_builder(page, base, connector, step, run, screenshot_dir):
    log_in(page, base)

    # The connector page: the URL with its copy button, and the paths tree.
    page.goto(f"{base}/admin/connectors/connector/{connector.pk}/change/")
    copy_button = page.locator(".field-connector_url .picky-copy")
    copy_button.click()
    page.wait_for_function(
        "document.querySelector('.field-connector_url .picky-copy').textContent === 'Copied'"
    )
    assert page.evaluate("navigator.clipboard.readText()") == connector.url
    tree = page.locator("#mapped-paths .picky-tree")
    assert tree.locator("code", has_text="{{ event.customer.city }}").is_visible()
    assert tree.locator("code", has_text='{{ event."Product Interested" }}').is_visible()
    tree.locator(".picky-copy[data-copy='{{ event.customer.city }}']").click()
    page.wait_for_function(
        "navigator.clipboard.readText().then(t => t === '{{ event.customer.city }}')"
    )
    page.screenshot(path=str(screenshot_dir / "connector.png"), full_page=True)

    # The step page: move the second action first with sortable2's button, then save.
    page.goto(f"{base}/admin/connectors/step/{step.pk}/change/")
    rows = page.locator("#actions-group tbody tr.has_original")
    assert rows.count() == 2
    rows.nth(1).locator(".move-begin").click()
    page.wait_for_function(
        "document.querySelector('#actions-group tbody tr.has_original .field-type_label')"
        ".textContent.includes('Set Variable')"
    )
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    labels = page.locator("#actions-group tbody tr.has_original .field-type_label")
    assert [text.strip() for text in labels.all_inner_texts()] == ["Set Variable", "Send Email"]
    page.screenshot(path=str(screenshot_dir / "step.png"), full_page=True)

    # An action's own settings form.
    page.locator("#actions-group tbody tr.has_original").last.get_by_text("Edit settings").click()
    page.wait_for_selector("#id_config__subject")
    assert page.input_value("#id_config__subject") == "Thanks, {{ event.name }}"
    page.screenshot(path=str(screenshot_dir / "action.png"), full_page=True)

    # Simulate on the sample payload: a timeline, nothing sent.
    page.goto(f"{base}/admin/connectors/connector/{connector.pk}/simulate/")
    page.click("input[type=submit][value=Simulate]")
    page.wait_for_selector("#simulation-result .picky-timeline")
    assert page.locator("#simulation-result .picky-line").count() == 5
    page.screenshot(path=str(screenshot_dir / "simulate.png"), full_page=True)

    # The run page: the timeline.
    page.goto(f"{base}/admin/connectors/run/{run.pk}/change/")
    assert page.locator(".picky-timeline .picky-line").count() == 5
    page.locator(".picky-timeline details summary").first.click()
    page.screenshot(path=str(screenshot_dir / "run.png"), full_page=True)

    # The run's event: its payload, and the way back to replay it.
    page.get_by_role("link", name="Event", exact=True).click()
    page.wait_for_selector(".field-payload_view pre")
    assert "Solar lamp" in page.inner_text(".field-payload_view pre")
    page.screenshot(path=str(screenshot_dir / "event.png"), full_page=True)
