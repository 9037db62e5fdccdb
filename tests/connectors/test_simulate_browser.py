"""Simulate in a real browser: a database action's real output, a message marked not sent
with the text it would send, and a GET sent for real with "Run safe requests for real".

The screenshot goes to $PICKY_SCREENSHOT_DIR when set (to look at it), else to the test's
temporary folder.
"""

import os
from pathlib import Path

import pytest

from actions.models import Action
from teambox.models import Channel
from tests.builders import build_connector
from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]

LEAD = {"name": "Asha", "phone": "+91 98470 12345", "order": "A-17"}
THANKS = "Thanks {{ contact.name }}, order {{ event.order }}"


@pytest.fixture
def shots(tmp_path):
    return Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)


@pytest.fixture
def connector(transactional_db, project, member, httpserver, settings):
    settings.PICKY_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    httpserver.expect_request("/orders/A-17").respond_with_json({"paid": True, "total": 1250})
    Channel.objects.create(project=project, name="WhatsApp", kind=Channel.Kind.SANDBOX)
    url = httpserver.url_for("/orders/").replace("localhost", "127.0.0.1") + "{{ event.order }}"
    connector = build_connector(
        project,
        name="Orders",
        field_mapping={"number": "{{ event.phone }}", "name": "{{ event.name }}"},
        sample_payload=LEAD,
        steps=[
            {
                "name": "Welcome",
                "actions": [
                    ("add_tag", {"tags": ["Buyer"]}),
                    ("send_message", {"channel": "WhatsApp", "to": ["{{ contact.number }}"],
                                      "text": THANKS}),
                    ("http_request", {"url": url, "save_as": "order"}),
                ],
            }
        ],
    )  # fmt: skip
    Action.objects.filter(step__connector=connector, type="send_message").update(
        name="Thank the buyer"
    )
    return connector


def test_simulate_shows_outputs_not_sent_messages_and_real_safe_requests(
    live_server, connector, httpserver, shots
):
    with browser_page() as page:
        log_in(page, live_server.url)
        page.goto(f"{live_server.url}/admin/connectors/connector/{connector.pk}/simulate/")
        page.check("#id_send_safe_requests")
        page.click("input[type=submit][value=Simulate]")
        page.wait_for_selector("#simulation-result .picky-timeline")
        lines = page.locator("#simulation-result .picky-line")
        texts = lines.all_inner_texts()
        for line in lines.all():
            for summary in line.locator("details summary").all():
                summary.click()
        page.screenshot(path=str(shots / "simulate.png"), full_page=True)
        tag_outputs = lines.nth(1).locator("pre").last.inner_text()
        message = lines.nth(2).inner_text()
        request = lines.nth(3).inner_text()

    assert len(texts) == 4
    assert "Add Tag" in texts[1] and '"Buyer"' in tag_outputs
    assert "Thank the buyer · Send Message" in message and "not sent (simulation)" in message
    assert "Thanks Asha, order A-17" in message and "919847012345" in message
    assert "sent for real (safe request)" in request
    assert '"status": 200' in request and '"total": 1250' in request
    assert len(httpserver.log) == 1
