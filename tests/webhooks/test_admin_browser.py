"""The webhooks admin in Chromium: an owner sets the event webhook (its secret write-only,
the filter report marked unavailable), reads a failed delivery's attempts and redelivers
it; screenshots of both pages."""

from pathlib import Path

import pytest
import time_machine
from werkzeug import Response

from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in, screenshot_dir
from webhooks import deliveries
from webhooks.models import Delivery, WebhookSettings

from .conftest import receiver_url
from .test_deliveries import START, give_up, new_delivery

__all__ = ["screenshot_dir"]  # the fixture, shared with the connector pages' tests

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]
PATH = "/hooks/picky"


def test_set_the_event_webhook_and_redeliver_a_failed_delivery(
    live_server, transactional_db, project, member, httpserver, local_outbound, eager,
    screenshot_dir,
):  # fmt: skip
    url = receiver_url(httpserver, PATH)
    answer_with = [500]
    httpserver.expect_request(PATH).respond_with_handler(
        lambda request: Response("busy", status=answer_with[0])
    )
    base = live_server.url
    with browser_page() as page:
        log_in(page, base)
        page.goto(f"{base}/admin/webhooks/webhooksettings/add/")
        page.select_option("#id_project", str(project.pk))
        page.fill("#id_event_url", url)
        page.check("#id_events input[value='1']")
        page.check("#id_events input[value='4']")
        page.click("input[name=_save]")
        assert "Type a secret" in page.locator(".errorlist").first.inner_text()
        page.fill("#id_secret", "whsec-browser")
        page.click("input[name=_save]")
        page.wait_for_url(f"{base}/admin/webhooks/webhooksettings/")
        hooks_id = page.locator("#result_list tbody a").first.get_attribute("href")
        page.goto(f"{base}{hooks_id}")
        assert page.input_value("#id_secret") == ""
        assert "saved" in page.get_attribute("#id_secret", "placeholder")
        assert "not available" in page.locator("#id_events").inner_text()
        page.screenshot(path=str(screenshot_dir / "webhook_settings.png"), full_page=True)
    hooks = WebhookSettings.objects.get(project=project)
    assert (hooks.secret, hooks.events, hooks.event_url) == ("whsec-browser", [1, 4], url)
    with time_machine.travel(START, tick=False) as clock:
        delivery = new_delivery(project, hooks, data=[{"msg_id": "12", "status": 1}])
        give_up(clock, delivery)
    answer_with[0] = 200
    with browser_page() as page:
        log_in(page, base)
        page.goto(f"{base}/admin/webhooks/delivery/{delivery.pk}/change/")
        assert (
            page.locator("#attempt_log-group tbody tr.has_original").count()
            == deliveries.MAX_ATTEMPTS
        )
        page.click("input[value=Redeliver]")
        page.wait_for_selector(".messagelist")
        assert "being sent again" in page.locator(".messagelist").inner_text()
        page.screenshot(path=str(screenshot_dir / "webhook_delivery.png"), full_page=True)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SUCCEEDED
