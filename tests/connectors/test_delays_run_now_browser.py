"""Run now in a real browser: from the Schedules list through the confirmation page, and
the run has gone on (Celery eager, so the worker's part runs when the page commits).

Screenshots go to $PICKY_SCREENSHOT_DIR when set, else to the test's temporary folder.
"""

import os
from pathlib import Path

import pytest
import time_machine
from django.core import mail

from connectors.models import Run, ScheduledStep
from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in
from tests.connectors.test_delays_run_now import NOW, follow_up, park

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def eager_celery():
    from picky.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_run_now_through_the_confirmation_page(
    live_server, transactional_db, project, member, eager_celery, tmp_path
):
    with time_machine.travel(NOW, tick=False):
        run = park(follow_up(project), "A-1")
    row = ScheduledStep.objects.get(run=run)
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    with browser_page() as page:
        log_in(page, base)
        page.goto(f"{base}/admin/connectors/scheduledstep/")
        listed = page.inner_text("#result_list")
        page.screenshot(path=str(folder / "schedules.png"), full_page=True)
        page.get_by_role("link", name="Run now").click()
        page.wait_for_selector("#run-now-delays")
        confirm = page.inner_text("#content-main")
        page.screenshot(path=str(folder / "run_now_confirm.png"), full_page=True)
        page.click("input[type=submit][value='Run now']")
        page.wait_for_selector(".messagelist .success")
        message = page.inner_text(".messagelist")
        page.goto(f"{base}/admin/connectors/run/{run.pk}/change/")
        run_page = page.inner_text("#content-main")
    assert "A-1" in listed and "2025-03-02 10:00 IST" in listed
    assert "This run stops waiting and goes on now" in confirm and "Next morning" in confirm
    assert "1 run no longer waiting: it goes on now." in message
    assert "Succeeded" in run_page or "succeeded" in run_page
    assert ScheduledStep.objects.get(pk=row.pk).status == "fired"
    assert Run.objects.get(pk=run.pk).status == Run.Status.SUCCEEDED
    assert [sent.to for sent in mail.outbox] == [["a-1@example.com"]]
