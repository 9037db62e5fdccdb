"""The builder's forms in a real browser: the field mapping, a step's filter, delay and
iterator, and an action's headers built by clicking and typing values only (no JSON), the
attribute picker inserting a path at the cursor, and the "Edit as JSON" toggle both ways.

Screenshots are written to $PICKY_SCREENSHOT_DIR when set, else to the test's temporary
folder.
"""

import os
from pathlib import Path

import pytest

from actions.models import Action
from connectors.models import Connector, Step
from tests.connectors.test_admin_browser import CHROMIUM, browser_page, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]

SAMPLE = {
    "name": "Asha Nair",
    "phone": "+91 98470 12345",
    "state": "Kerala",
    "amount": 1500,
    # Far ahead, so that the preview waits whatever the day the suite runs.
    "webinar": {"start": "2030-12-09T18:30:00+05:30"},
    "items": [{"sku": "LAMP-1"}, {"sku": "LAMP-2"}, {"sku": "FAN-1"}],
}


@pytest.fixture
def screenshot_dir(tmp_path):
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def sampled(transactional_db, project, member):
    return Connector.objects.create(project=project, name="Webinar leads", sample_payload=SAMPLE)


def pick(page, box, path, screenshot_dir=None):
    """Insert `{{ path }}` into `box` with the attribute picker, at the cursor."""
    box.locator("xpath=following-sibling::button[contains(@class, 'picky-insert')][1]").click()
    panel = page.locator(".picky-attr-panel")
    if screenshot_dir:
        page.screenshot(path=str(screenshot_dir / "builder-picker.png"))
    panel.locator(".picky-attr-search").fill(path)
    panel.locator(f".picky-attr-choose[data-template='{{{{ {path} }}}}']").click()


def test_field_mapping_and_headers_by_clicking(live_server, sampled, screenshot_dir):
    base = live_server.url
    step = Step.objects.create(connector=sampled, position=0, name="Look up")
    with browser_page() as page:
        log_in(page, base)

        # The field mapping: number typed, name and an attribute picked from the sample.
        page.goto(f"{base}/admin/connectors/connector/{sampled.pk}/change/")
        mapping = page.locator(".field-field_mapping")
        assert not mapping.locator("textarea").is_visible()
        mapping.locator(".picky-map-number").fill("{{ event.phone }}")
        pick(page, mapping.locator(".picky-map-name"), "event.name")
        mapping.get_by_role("button", name="+ Add an attribute").click()
        mapping.locator(".picky-key-box").fill("state")
        mapping.locator(".picky-pair-value").fill("From ")
        pick(page, mapping.locator(".picky-pair-value"), "event.state", screenshot_dir)
        page.screenshot(path=str(screenshot_dir / "builder-mapping.png"), full_page=True)
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")

        # An HTTP request's headers as rows.
        page.goto(f"{base}/admin/connectors/step/{step.pk}/change/")
        page.get_by_role("link", name="Add an action").click()
        page.get_by_role("link", name="HTTP Request", exact=True).click()
        page.fill("#id_config__url", "https://crm.example/leads")
        headers = page.locator(".field-config__headers")
        for name, value in (("X-Lead", "{{ event.name }}"), ("Accept", "application/json")):
            headers.get_by_role("button", name="+ Add a row").click()
            headers.locator(".picky-key-box").last.fill(name)
            headers.locator(".picky-pair-value").last.fill(value)
        page.screenshot(path=str(screenshot_dir / "builder-headers.png"), full_page=True)
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist .success")

    sampled.refresh_from_db()
    assert sampled.field_mapping == {
        "number": "{{ event.phone }}",
        "name": "{{ event.name }}",
        "attributes": {"state": "From {{ event.state }}"},
    }
    action = Action.objects.get(step=step)
    assert action.config["headers"] == {"X-Lead": "{{ event.name }}", "Accept": "application/json"}


def test_a_step_by_clicking(live_server, sampled, screenshot_dir):
    base = live_server.url
    with browser_page() as page:
        log_in(page, base)

        # A step: two OR groups, a relative delay with its preview, an iterator.
        page.goto(f"{base}/admin/connectors/step/add/?connector={sampled.pk}")
        page.fill("#id_name", "Kerala or big")
        filters = page.locator(".field-filters")
        filters.get_by_role("button", name="+ Add a condition").click()
        first = filters.locator(".picky-condition").nth(0)
        pick(page, first.locator(".picky-field"), "event.state")
        first.locator(".picky-value").fill("Kerala")
        filters.get_by_role("button", name="+ Add an OR group").click()
        second = filters.locator(".picky-group").nth(1)
        second.locator(".picky-field").fill("{{ event.amount }}")
        second.get_by_label("Operator").select_option(label="is more than")
        second.locator(".picky-value").fill("1000")
        second.get_by_role("button", name="+ And a condition").click()
        third = second.locator(".picky-condition").nth(1)
        third.locator(".picky-field").fill("{{ event.name }}")
        third.get_by_label("Operator").select_option(label="is between")
        third.locator(".picky-value").fill("A")
        third.locator(".picky-value2").fill("M")

        delay = page.locator(".field-delay")
        delay.get_by_label("Wait", exact=True).select_option(
            label="Wait until a date in the payload"
        )
        pick(page, delay.locator(".picky-date-field"), "event.webinar.start")
        delay.get_by_label("Amount").fill("2")
        delay.get_by_label("Unit").select_option("hours")
        delay.get_by_label("Before or after").select_option("before")
        delay.get_by_label("If the time has passed").select_option(label="skip this step")
        delay.locator(".picky-identifier").fill("{{ event.phone }}")
        preview = delay.locator(".picky-delay-preview")
        preview.filter(has_text="waits until Mon 9 Dec 2030 16:30 (Asia/Kolkata)").wait_for()

        iterator = page.locator(".field-iterator")
        iterator.get_by_label("Repeat the actions for each item of a list").check()
        assert iterator.get_by_label("List", exact=True).input_value() == "event.items"
        assert "3 items" in iterator.locator(".picky-iterator-count").inner_text()
        iterator.get_by_label("At most").fill("50")
        page.screenshot(path=str(screenshot_dir / "builder-step.png"), full_page=True)
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")
        # Shown again as forms from the saved JSON.
        assert page.locator(".field-filters .picky-condition").count() == 3
        assert page.locator(".field-delay .picky-date-field").input_value() == (
            "{{ event.webinar.start }}"
        )

    step = sampled.steps.get()
    assert step.filters == [
        [{"field": "{{ event.state }}", "op": "equals", "value": "Kerala"}],
        [
            {"field": "{{ event.amount }}", "op": "gt", "value": "1000"},
            {"field": "{{ event.name }}", "op": "between", "value": "A", "value2": "M"},
        ],
    ]
    assert step.delay == {
        "mode": "relative",
        "field": "{{ event.webinar.start }}",
        "offset": -2,
        "unit": "hours",
        "if_past": "skip",
        "identifier": "{{ event.phone }}",
    }
    assert step.iterator == {"path": "event.items", "max": 50}


def test_edit_as_json_both_ways(live_server, sampled, screenshot_dir):
    base = live_server.url
    with browser_page() as page:
        log_in(page, base)
        page.goto(f"{base}/admin/connectors/step/add/?connector={sampled.pk}")
        filters = page.locator(".field-filters")
        filters.get_by_role("button", name="+ Add a condition").click()
        filters.locator(".picky-field").fill("{{ event.state }}")
        # Saved without its value: refused, and the box the error names is marked.
        page.click("input[name=_continue]")
        page.wait_for_selector(".field-filters .errorlist")
        value = filters.locator(".picky-value")
        assert "picky-invalid" in value.get_attribute("class")
        assert value.get_attribute("title") == "filters[0][0].value: is required for equals"
        value.fill("Kerala")

        # Form -> JSON: the JSON the form wrote.
        filters.get_by_role("button", name="Edit as JSON").click()
        box = page.locator("#id_filters")
        assert box.is_visible() and not filters.locator(".picky-builder-form").is_visible()
        assert '"value": "Kerala"' in box.input_value()

        # Broken JSON stays, with the reason; nothing is lost.
        broken = '[[{"field": "{{ event.state }}", "op": "equals", "value": "Goa"'
        box.fill(broken)
        filters.get_by_role("button", name="Back to the form").click()
        assert "Not valid JSON" in filters.locator(".picky-builder-reason").inner_text()
        assert box.is_visible() and box.input_value() == broken
        page.screenshot(path=str(screenshot_dir / "builder-json-error.png"), full_page=True)

        # Mended JSON -> the form shows it.
        box.fill(broken + "}]]")
        filters.get_by_role("button", name="Back to the form").click()
        assert not box.is_visible()
        assert filters.locator(".picky-value").input_value() == "Goa"
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")

    step = sampled.steps.get()
    assert step.filters == [[{"field": "{{ event.state }}", "op": "equals", "value": "Goa"}]]


def test_a_card_button_as_rows_of_settings(live_server, sampled, screenshot_dir):
    base = live_server.url
    step = Step.objects.create(connector=sampled, position=0, name="Card")
    with browser_page() as page:
        log_in(page, base)
        page.goto(f"{base}/admin/actions/action/add/?type=add_event_feed&step={step.pk}")
        page.fill("#id_config__subject", "Lead {{ event.name }}")
        buttons = page.locator(".field-config__buttons")
        buttons.get_by_role("button", name="+ Add", exact=True).click()
        item = buttons.locator(".picky-item")
        for setting, value in (("name", "Call"), ("url", "https://crm.example/{{ event.phone }}")):
            if item.locator(".picky-key-box").last.input_value():
                item.get_by_role("button", name="+ Add a setting").click()
            item.locator(".picky-key-box").last.fill(setting)
            item.locator(".picky-pair-value").last.fill(value)
        page.screenshot(path=str(screenshot_dir / "builder-buttons.png"), full_page=True)
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist .success")

    action = Action.objects.get(step=step)
    assert action.config["buttons"] == [
        {"name": "Call", "url": "https://crm.example/{{ event.phone }}"}
    ]
