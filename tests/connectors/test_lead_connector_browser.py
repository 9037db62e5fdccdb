"""Issue 22's done-when: the lead connector built in a real browser by clicking and typing
values only (no JSON typed anywhere): thank the lead, tag by product, route Kerala leads to
one rep and the others to another, wait a day, follow up, look the lead up in a CRM API. Two
actions are reordered by dragging, the draft is published, the sample is posted to the
connector's URL, and the run's timeline says the right rep got the message, the tag is on
the contact and the delay is scheduled.

Screenshots are written to $PICKY_SCREENSHOT_DIR when set, else to the test's temporary
folder; the README's tour shows some of them (docs/screenshots/).
"""

from pathlib import Path

import pytest
import requests

from connectors.models import Connector, Run, ScheduledStep
from connectors.services import map_first_sample
from connectors.versions import publish_connector
from crm.models import Contact
from teambox.models import Channel, Message
from tests.connectors import test_admin_browser as browser

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(browser.CHROMIUM).exists(), reason=f"{browser.CHROMIUM} is not installed"
    ),
]
# The browser tests' fixture: where screenshots go.
screenshot_dir = browser.screenshot_dir

LEAD = {
    "name": "Asha Nair",
    "phone": "919847012345",
    "email": "asha@example.com",
    "state": "Kerala",
    "product": "Solar lamp",
}
KERALA_REP, OTHER_REP = "919800000001", "919800000002"


@pytest.fixture
def lead_connector(transactional_db, project, member):
    """A connector made in the admin (published empty) that received its first lead (the
    sample), a WhatsApp channel, and runs executed in the web server's thread."""
    from picky.celery import app

    Channel.objects.create(project=project, name="WhatsApp", kind=Channel.Kind.SANDBOX)
    connector = Connector.objects.create(project=project, name="Website leads")
    publish_connector(connector, member, note="Created")
    map_first_sample(connector, LEAD)
    app.conf.task_always_eager = True
    yield connector
    app.conf.task_always_eager = False


def choose(page, box, typed, name):
    """Type into a picker box and click the name it offers."""
    box.click()
    box.fill("")
    page.keyboard.type(typed)
    page.locator(".picky-picker-list li", has_text=name).first.click()


def add_row(field, value):
    """A list setting's rows: "+ Add", then the value in the new row."""
    field.get_by_role("button", name="+ Add").click()
    field.locator(".picky-item-value").last.fill(value)


def add_action(page, label):
    page.get_by_role("link", name="Add an action").click()
    page.get_by_role("link", name=label, exact=True).click()


def save_action(page):
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")


def send_message(page, to, text, internal=False):
    add_action(page, "Send Message")
    choose(page, page.locator("#id_config__channel"), "Wh", "WhatsApp")
    page.fill("#id_config__text", text)
    add_row(page.locator(".field-config__to"), to)
    if internal:
        page.check("#id_config__internal")
    save_action(page)


def new_step(page, base, connector, name, filters=None):
    page.goto(f"{base}/admin/connectors/connector/{connector.pk}/change/")
    page.get_by_role("link", name="Add a step").click()
    page.fill("#id_name", name)
    if filters:
        field, operator, value = filters
        box = page.locator(".field-filters")
        box.get_by_role("button", name="+ Add a condition").click()
        box.locator(".picky-field").fill(field)
        box.get_by_label("Operator").select_option(label=operator)
        box.locator(".picky-value").fill(value)
    return box_of_delay(page)


def box_of_delay(page):
    return page.locator(".field-delay")


def save_step(page):
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")


def test_build_publish_and_run_the_lead_connector(live_server, lead_connector, screenshot_dir):
    base, connector = live_server.url, lead_connector
    shots = screenshot_dir
    with browser.browser_page() as page:
        browser.log_in(page, base)

        # The contact: number and name from the lead.
        page.goto(f"{base}/admin/connectors/connector/{connector.pk}/change/")
        mapping = page.locator(".field-field_mapping")
        mapping.locator(".picky-map-number").fill("{{ event.phone }}")
        mapping.locator(".picky-map-name").fill("{{ event.name }}")
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")

        # 1. Thank the lead and tag by product; then the tag is dragged first.
        new_step(page, base, connector, "Thank the lead")
        save_step(page)
        send_message(page, "{{ contact.number }}", "Thanks {{ event.name }}, we will call you.")
        add_action(page, "Add Tag")
        add_row(page.locator(".field-config__tags"), "{{ event.product }}")
        save_action(page)
        rows = page.locator("#actions-group tbody tr.has_original")
        rows.nth(1).locator("td.original p").drag_to(rows.nth(0).locator("td.original p"))
        page.wait_for_function(
            "document.querySelector('#actions-group tbody tr.has_original .field-type_label')"
            ".textContent.includes('Add Tag')"
        )
        page.screenshot(path=str(shots / "lead-step.png"), full_page=True)
        save_step(page)

        # 2. Kerala leads to one rep, the others to another.
        new_step(page, base, connector, "Kerala rep", ("{{ event.state }}", "is", "Kerala"))
        save_step(page)
        send_message(page, KERALA_REP, "New Kerala lead: {{ event.name }}", internal=True)
        new_step(page, base, connector, "Other rep", ("{{ event.state }}", "is not", "Kerala"))
        save_step(page)
        send_message(page, OTHER_REP, "New lead: {{ event.name }}", internal=True)

        # 3. A day later: follow up, and look the lead up in the CRM's API.
        delay = new_step(page, base, connector, "A day later")
        delay.get_by_label("Wait", exact=True).select_option(label="Wait a fixed time")
        delay.get_by_label("Amount").fill("1")
        delay.get_by_label("Unit").select_option("days")
        save_step(page)
        send_message(
            page, "{{ contact.number }}", "Did you get a chance to look, {{ event.name }}?"
        )
        add_action(page, "HTTP Request")
        page.fill("#id_config__url", "https://crm.example.com/leads?phone={{ event.phone }}")
        page.fill("#id_config__save_as", "crm")
        save_action(page)

        # Publish: the connector page lists what the draft changes.
        page.goto(f"{base}/admin/connectors/connector/{connector.pk}/change/")
        changes = page.locator(".picky-draft-changes li")
        assert changes.count() == 4  # four steps added
        page.screenshot(path=str(shots / "lead-draft.png"), full_page=True)
        page.click("#publish")
        page.wait_for_selector(".messagelist .success")
        assert "Version 2 is live" in page.inner_text("#draft")

        # The lead arrives at the connector's URL.
        answer = requests.post(base + connector.path, json=LEAD, timeout=10)
        assert answer.json()["status"] == "accepted"

        # Its run: the Kerala rep got the message, the tag is on, the delay is scheduled.
        page.goto(f"{base}/admin/connectors/run/?connector__id__exact={connector.pk}")
        page.locator("#result_list tbody tr a").first.click()
        timeline = page.locator(".picky-timeline")
        timeline.wait_for()
        text = timeline.inner_text()
        assert "Step 3 · Other rep" in text and "skipped" in text
        lines = timeline.locator(".picky-line")
        kerala = lines.filter(has_text="Step 2 · Kerala rep")
        assert kerala.first.locator(".picky-badge").first.inner_text() == "ran"
        assert "waiting" in lines.filter(has_text="Step 4 · A day later").first.inner_text()
        to_the_rep = lines.filter(has_text="Send Message").nth(1)
        to_the_rep.locator("summary", has_text="Inputs").click()
        assert KERALA_REP in to_the_rep.inner_text()
        to_the_rep.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "lead-run.png"), full_page=True)

    run = Run.objects.get(connector=connector)
    assert (run.status, run.version.number) == (Run.Status.WAITING, 2)
    assert ScheduledStep.objects.filter(run=run, status=ScheduledStep.Status.PENDING).exists()
    contact = Contact.objects.get(project=connector.project, number="919847012345")
    assert list(contact.tags.values_list("name", flat=True)) == ["Solar lamp"]
    addresses = set(Message.objects.values_list("address", flat=True))
    assert KERALA_REP in addresses and OTHER_REP not in addresses
    assert "919847012345" in addresses
