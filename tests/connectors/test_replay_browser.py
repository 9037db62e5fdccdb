"""Resume versus Run again from the start, in a real browser: a failed run is resumed without
messaging the lead again, and running its event again first shows the page that lists the
outside effects it repeats.

Screenshots are written to $PICKY_SCREENSHOT_DIR when set, else to the test's temporary folder.
"""

import os
import re
import threading
from pathlib import Path

import pytest
from django.db import connection

from connectors import engine
from connectors.models import Run
from teambox.models import Channel, Message
from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in
from tests.connectors.test_resume import crm_down_then_up, ingest, lead_flow

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
def failed_run(transactional_db, project, member, httpserver, settings):
    settings.PICKY_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    Channel.objects.create(project=project, name="Sandbox", kind=Channel.Kind.SANDBOX)
    crm_down_then_up(httpserver)
    httpserver.expect_ordered_request("/crm").respond_with_json({"ok": True})
    run = engine.process_event(ingest(lead_flow(project, httpserver)).pk)
    assert run.status == Run.Status.FAILED
    assert Message.objects.count() == 1
    return run


def as_a_worker(run_id):
    """Execute the run as a worker would: in a thread of its own, whose database connection
    is free of the browser's event loop."""

    def work():
        try:
            engine.continue_run(run_id)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(30)


def run_id_of(page):
    return int(re.search(r"/run/(\d+)/change/", page.url).group(1))


def test_resume_and_run_again_from_the_admin(live_server, failed_run, screenshot_dir):
    base = live_server.url
    with browser_page() as page:
        log_in(page, base)

        # The failed run offers both: Resume, and Run again from the start.
        page.goto(f"{base}/admin/connectors/run/{failed_run.pk}/change/")
        assert "goes on at Step 2 · Tell the CRM" in page.inner_text(".picky-actions")
        page.screenshot(path=str(screenshot_dir / "run_failed.png"), full_page=True)

        # Run again asks first, listing the outside effects it repeats; Cancel goes back.
        page.get_by_role("link", name="Run again from the start…").click()
        page.wait_for_selector("#repeated-effects")
        rows = page.locator("#repeated-effects tbody tr").all_inner_texts()
        assert len(rows) == 2
        assert "Send Message" in rows[0] and "done: it will be done again" in rows[0]
        assert "HTTP Request" in rows[1] and "not done" in rows[1]
        page.screenshot(path=str(screenshot_dir / "replay_confirm.png"), full_page=True)
        page.get_by_role("link", name="Cancel").click()
        page.wait_for_url(f"**/run/{failed_run.pk}/change/")

        # Resume: a new run, which a worker takes and finishes.
        page.get_by_role("button", name="Resume").click()
        page.wait_for_selector(".messagelist .success")
        assert f"Resuming run {failed_run.pk} as run" in page.inner_text(".messagelist")
        resumed_id = run_id_of(page)
        as_a_worker(resumed_id)
        page.reload()
        assert page.inner_text(".field-status_badge .readonly").lower() == "succeeded"
        page.screenshot(path=str(screenshot_dir / "run_resumed.png"), full_page=True)

        # The event list tells the outcome of the event's latest run.
        page.goto(f"{base}/admin/connectors/event/?outcome=succeeded")
        assert page.locator("#result_list tbody tr").count() == 1
        page.screenshot(path=str(screenshot_dir / "event_list.png"), full_page=True)

        # From the event page, Run again from the start, confirmed.
        page.goto(f"{base}/admin/connectors/event/{failed_run.event_id}/change/")
        page.get_by_role("link", name="Run again from the start…").click()
        page.get_by_role("button", name="Run again from the start").click()
        page.wait_for_selector(".messagelist .success")
        again_id = run_id_of(page)
        as_a_worker(again_id)

    assert Run.objects.get(pk=resumed_id).resume_of_id == failed_run.pk
    again = Run.objects.get(pk=again_id)
    assert (again.status, again.resume_of_id) == (Run.Status.SUCCEEDED, None)
    # Resume sent nothing twice; running again from the start thanked the lead again.
    assert Message.objects.count() == 2
