"""The live preview in a real browser: typing a math expression on a new action's page
shows its output for the connector's sample, a refused setting says why, and nothing is
saved. Screenshots go to $PICKY_SCREENSHOT_DIR when set, else to the test's folder."""

import os
from pathlib import Path

import pytest

from actions.models import Action
from tests.builders import build_connector
from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]


def test_math_output_previews_as_the_user_types(
    live_server, transactional_db, project, member, tmp_path
):
    connector = build_connector(project, name="Orders", steps=[{"name": "Totals"}])
    connector.sample_payload = {"order": {"total": "12.50", "items": [{"price": "0.10"}]}}
    connector.save(update_fields=["sample_payload"])
    step = connector.steps.get()
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    with browser_page() as page:
        log_in(page, base)
        page.goto(f"{base}/admin/actions/action/add/?type=math&step={step.pk}")
        preview = page.locator(".picky-preview")
        page.fill("#id_config__expression", '"{{ event.order.total }}" * 2 + ')
        page.wait_for_selector(".picky-preview[data-state=error]")
        assert "Not complete yet: expression:" in preview.inner_text()
        page.locator("#id_config__expression").press_sequentially("0.1")
        output = page.locator(".picky-preview-output")
        output.wait_for(state="visible")
        page.wait_for_function(
            "document.querySelector('.picky-preview-output').textContent.includes('25.10')"
        )
        assert '"result": 25.1' in output.inner_text()
        page.screenshot(path=str(folder / "math-live-preview.png"), full_page=True)
    assert not Action.objects.exists()
