"""The README's "A short tour", walked in a real browser on the demo data as `make run`
creates it (picky/demo.py): each numbered step of the tour is a block below.

Screenshots are written to $PICKY_SCREENSHOT_DIR when set, else to the test's temporary folder.
"""

import os
import re
from io import StringIO
from pathlib import Path

import pytest
import requests
from django.core.management import call_command

from picky.demo import DEMO_PASSWORD, DEMO_USERNAME, SAMPLE_LEAD, setup_demo
from teambox.models import Channel
from tests.connectors.test_admin_browser import CHROMIUM, browser_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]

REPLY = {"number": "+91 98470 12345", "message": "Call me at 6pm"}


@pytest.fixture
def screenshot_dir(tmp_path):
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def demo(transactional_db):
    """The demo of `make run`, its runs executed in the web server's thread (no worker)."""
    from picky.celery import app

    app.conf.task_always_eager = True
    connector = setup_demo()
    yield {
        "connector": connector,
        "channel": Channel.objects.get(project=connector.project),
        "token": call_api_token(connector.project.slug),
    }
    app.conf.task_always_eager = False


def call_api_token(slug):
    """Step 5 of the tour: the token command the banner prints (tests/picky/test_run_embedded
    runs it as printed)."""
    out = StringIO()
    call_command("create_api_token", "--project", slug, "--name", "my-token", stdout=out)
    return out.getvalue().strip()


def test_the_readme_tour(live_server, demo, screenshot_dir):
    base = live_server.url
    connector, channel = demo["connector"], demo["channel"]
    shot = iter(range(1, 100))
    with browser_page() as page:

        def screenshot(name):
            page.screenshot(path=str(screenshot_dir / f"tour-{next(shot):02}-{name}.png"))

        # 1. Open the admin URL, log in as demo.
        page.goto(f"{base}/admin/")
        page.fill("#id_username", DEMO_USERNAME)
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{base}/admin/")

        # 2. The printed curl line; the event under Connectors -> Events; the sample's
        # attribute paths on the connector's page, with the template to copy.
        accepted = requests.post(f"{base}{connector.path}", json=SAMPLE_LEAD, timeout=10)
        assert accepted.status_code == 200, accepted.text
        page.goto(f"{base}/admin/")
        page.get_by_role("link", name="Events", exact=True).click()
        events = page.locator("#result_list tbody tr")
        assert "Website leads" in events.first.inner_text()
        assert events.count() == 1
        screenshot("events")
        page.goto(f"{base}/admin/connectors/connector/")
        page.get_by_role("link", name="Website leads").click()
        page.wait_for_selector("#mapped-paths")
        screenshot("connector")
        tree = page.locator("#mapped-paths .picky-tree")
        for path in ("event.name", "event.email", "event.phone", "event.product"):
            assert tree.locator("code", has_text=f"{{{{ {path} }}}}").is_visible()

        # 3. The thank-you message under Teambox -> Messages and on the lead's page; the
        # lead's reply played through the Sandbox channel's webhook URL.
        thanks = "Hi Asha Rao, thanks for asking about Solar Lamp!"
        page.goto(f"{base}/admin/")
        page.get_by_role("link", name="Messages", exact=True).click()
        assert thanks in page.inner_text("#result_list")
        screenshot("messages")
        page.goto(f"{base}/admin/")
        page.get_by_role("link", name="Contacts", exact=True).click()
        page.get_by_role("link", name="Asha Rao").first.click()
        assert thanks in page.inner_text("#content")
        screenshot("contact")
        page.goto(f"{base}/admin/teambox/channel/")
        page.get_by_role("link", name="Sandbox", exact=True).click()
        webhook_url = page.inner_text(".field-webhook .readonly").split()[0]
        assert webhook_url.endswith(channel.webhook_path)
        reply = requests.post(re.sub(r"^https?://[^/]+", base, webhook_url), json=REPLY, timeout=10)
        assert reply.status_code == 200, reply.text
        page.goto(f"{base}/admin/teambox/message/")
        assert "Call me at 6pm" in page.inner_text("#result_list")
        screenshot("reply")

        # 4. Build: a step named on the connector's page, opened for its filters (JSON,
        # checked), an action added by type and its settings form; Simulate on the sample.
        page.goto(f"{base}/admin/connectors/connector/{connector.pk}/change/")
        page.get_by_role("link", name="Add a step").click()
        page.fill("#id_name", "Tag Kerala leads")
        # The filter typed as JSON (the builder's "Edit as JSON"), checked as it is typed.
        page.locator(".field-filters").get_by_role("button", name="Edit as JSON").click()
        page.fill("#id_filters", '[[{"field": "{{ event.state }}", "op": "equals"')
        page.wait_for_selector("#id_filters ~ .picky-json-status.picky-bad")
        page.fill(
            "#id_filters",
            '[[{"field": "{{ event.state }}", "op": "equals", "value": "Kerala"}]]',
        )
        page.wait_for_selector("#id_filters ~ .picky-json-status.picky-ok")
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")
        screenshot("step")
        page.get_by_role("link", name="Add an action").click()
        page.get_by_role("link", name="Add Tag", exact=True).click()
        page.fill("#id_name", "Tag the Kerala lead")
        tags = page.locator(".field-config__tags")
        for tag in ("Kerala", "Lead"):
            tags.get_by_role("button", name="+ Add").click()
            tags.locator(".picky-item-value").last.fill(tag)
        screenshot("add-tag")
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist .success")
        page.get_by_role("link", name="Add an action").click()
        page.get_by_role("link", name="Set Variable", exact=True).click()
        page.fill("#id_config__name", "region")
        page.fill("#id_config__value", "{{ event.state }}")
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist .success")
        # Drag into order (sortable2's move-to-top button does the drag's work).
        rows = page.locator("#actions-group tbody tr.has_original")
        rows.nth(1).locator(".move-begin").click()
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")
        labels = page.locator("#actions-group tbody tr.has_original .field-type_label")
        assert [text.strip() for text in labels.all_inner_texts()] == ["Set Variable", "Add Tag"]
        screenshot("actions")

        page.goto(f"{base}/admin/connectors/connector/{connector.pk}/change/")
        page.get_by_role("link", name="Simulate").click()
        page.click("input[type=submit][value=Simulate]")
        result = page.wait_for_selector("#simulation-result .picky-timeline")
        screenshot("simulate")
        simulated = result.inner_text()
        assert "Send a thank-you message" in simulated
        assert "not sent (simulation)" in simulated
        assert "Tag the Kerala lead" in simulated

        # The run's page: its timeline; the event list's outcome filter and search.
        page.goto(f"{base}/admin/connectors/event/")
        page.get_by_role("link", name="Succeeded").click()
        page.fill("#searchbar", "asha@example.com")
        page.press("#searchbar", "Enter")
        page.wait_for_url(re.compile(r"q=asha"))
        assert page.locator("#result_list tbody tr").count() == 1
        page.locator("#result_list tbody tr a").first.click()
        page.wait_for_url(re.compile(r"/event/\d+/change/"))
        screenshot("event")
        assert page.get_by_role("link", name=re.compile("Run again from the start")).count()
        page.get_by_role("link", name=re.compile(r"^Run \d+$")).click()
        page.wait_for_selector(".picky-timeline")
        screenshot("run")
        assert "Send a thank-you message" in page.inner_text(".picky-timeline")

        # The connector list: Import, and the Export action.
        page.goto(f"{base}/admin/connectors/connector/")
        assert page.get_by_role("link", name=re.compile("Import")).count()
        assert "Export" in page.inner_text("select[name=action]")
        screenshot("connectors")

    # 5. The token command of the banner (and the README): the API answers with it.
    connectors = requests.get(
        f"{base}/api/v1/connectors",
        headers={"Authorization": f"Bearer {demo['token']}"},
        timeout=10,
    )
    assert connectors.status_code == 200, connectors.text
    assert [item["name"] for item in connectors.json()["results"]] == ["Website leads"]
