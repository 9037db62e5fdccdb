"""A macro button in a real browser: a webhook's trigger_macro sends agent Anita the
"Follow up" button on a patient; her notifications drawer opens its form, she fills it
in and submits, the record changes, and the connector bound to the button runs (Celery
in-process, as the other teambox browser tests), adding a note to the patient's contact.

Screenshots of the macro form and the record page are written to $PICKY_SCREENSHOT_DIR
(or the test's folder)."""

import os
from pathlib import Path

import pytest
import requests

from connectors.models import Connector, Run
from crm import services as crm
from crm.models import Note
from crm.records import services as records
from crm.records.models import Field, MacroButton, Module, Record, RecordEntry
from teambox.models import Notification
from tests.builders import build_agent, build_connector
from tests.connectors.test_admin_browser import CHROMIUM, browser_page
from tests.teambox.test_pages_browser import CLOSE, session_cookie

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def eager_runs():
    """Runs execute in the web server's thread (no worker)."""
    from picky.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def clinic(transactional_db, project, eager_runs):
    patients = Module.objects.create(project=project, name="Patients")
    Field.objects.create(module=patients, key="full_name", label="Full name", position=0)
    Field.objects.create(
        module=patients,
        key="status",
        label="Status",
        type="choice",
        choices=["New", "Follow-up", "Discharged"],
        position=1,
    )
    Field.objects.create(
        module=patients, key="next_visit", label="Next visit", type="date", position=2
    )
    button = MacroButton.objects.create(
        module=patients, name="Follow up", fields=["status", "next_visit"]
    )
    asha = crm.upsert_contact(project, "919847012345", name="Asha Rao")
    patient = records.add_record(
        patients, {"full_name": "Asha <i>Rao</i>", "status": "New"}, contact=asha
    )
    anita = build_agent(project, "anita").user
    send = {
        "module": "Patients",
        "button": "Follow up",
        "agent": "anita",
        "record_id": "{{ event.patient }}",
    }
    sender = build_connector(
        project, "Ask for a follow-up", steps=[{"actions": [("trigger_macro", send)]}]
    )
    note = {"text": "Next visit booked: {{ event.record.next_visit }} ({{ event.agent.name }})"}
    bound = build_connector(
        project,
        "Follow-up booked",
        trigger=Connector.Trigger.MACRO_BUTTON,
        trigger_macro=button,
        steps=[{"actions": [("add_note", note)]}],
    )
    return {"anita": anita, "patient": patient, "sender": sender, "bound": bound, "asha": asha}


def test_an_agent_fills_in_a_macro_button_sent_to_her(live_server, project, clinic, tmp_path):
    screenshots = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    screenshots.mkdir(parents=True, exist_ok=True)
    base, patient = live_server.url, clinic["patient"]
    response = requests.post(
        f"{base}/hooks/{clinic['sender'].token}",
        json={"patient": patient.pk},
        timeout=30,
        headers=CLOSE,
    )
    assert response.status_code == 200, response.text
    cookie = session_cookie(clinic["anita"], base)

    with browser_page() as page:
        page.context.add_cookies([cookie])
        page.goto(f"{base}/teambox/{project.slug}/")
        page.click("#notification-drawer summary")
        link = page.get_by_role("link", name=f"Follow up: Patients #{patient.pk}")
        link.click()
        page.wait_for_selector("#macro-form")
        assert page.locator("#macro-form select[name=status]").input_value() == "New"
        assert page.locator("#macro-form [name=full_name]").count() == 0
        page.select_option("#macro-form select[name=status]", "Follow-up")
        page.fill("#macro-form input[name=next_visit]", "2030-03-01")
        page.screenshot(path=str(screenshots / "teambox-macro-form.png"))
        page.click("#macro-form button[type=submit]")
        page.wait_for_selector(".flash li:has-text('Follow up saved')")
        timeline = page.locator("#record-timeline")
        assert "Anita submitted Follow up." in timeline.inner_text()
        assert "Status: New → Follow-up" in timeline.inner_text()
        assert "Asha <i>Rao</i>" in page.inner_text("#record-values")
        page.screenshot(path=str(screenshots / "teambox-record.png"))

    saved = Record.objects.get(pk=patient.pk)
    assert (saved.data["status"], saved.data["next_visit"]) == ("Follow-up", "2030-03-01")
    assert RecordEntry.objects.filter(record=saved, kind=RecordEntry.Kind.MACRO).count() == 1
    assert Notification.objects.get(user=clinic["anita"]).read_at is not None
    run = Run.objects.get(connector=clinic["bound"])
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert Note.objects.get(contact=clinic["asha"]).text == (
        "Next visit booked: 2030-03-01 (Anita)"
    )
