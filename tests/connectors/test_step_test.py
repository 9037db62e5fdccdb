"""Test this step: the connector's draft runs on the sample up to and including the step,
a simulation that sends and keeps nothing, and the step page shows that step's actions with
their inputs and outputs."""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from connectors import engine
from connectors.models import Run
from crm.models import Contact, Tag
from picky.models import Membership
from teambox.models import Message
from tests.builders import build_connector
from tests.connectors import test_admin_browser as browser

# The browser tests' fixture: where screenshots go.
screenshot_dir = browser.screenshot_dir

SAMPLE = {"name": "Asha", "phone": "919847012345", "state": "Kerala", "product": "Solar lamp"}


@pytest.fixture
def leads(project, sandbox):
    connector = build_connector(
        project,
        name="Leads",
        sample_payload=SAMPLE,
        field_mapping={"number": "{{ event.phone }}", "name": "{{ event.name }}"},
        steps=[
            {
                "name": "Thank",
                "actions": [
                    (
                        "send_message",
                        {"channel": "Sandbox", "to": ["{{ contact.number }}"], "text": "Thanks"},
                    )
                ],
            },
            {
                "name": "Tag by product",
                "actions": [
                    ("add_tag", {"tags": ["{{ event.product }}"]}),
                    ("set_variable", {"name": "tagged", "value": "yes"}),
                ],
            },
            {"name": "Later", "actions": [("set_variable", {"name": "later", "value": "1"})]},
        ],
    )
    return connector


def test_a_simulation_through_a_step_stops_after_it(leads):
    simulation = engine.simulate(leads, SAMPLE, through_step=1)

    steps = [log["step_position"] for log in simulation.logs if log["kind"] == "step"]
    assert (simulation.status, sorted(steps)) == (Run.Status.SUCCEEDED, [0, 1])
    assert simulation.context["vars"] == {"tagged": "yes"}


def test_the_step_page_tests_the_step_in_place(client, leads, member):
    client.force_login(member)
    step = leads.steps.get(name="Tag by product")

    answer = client.post(
        reverse("admin:connectors_step_test", args=[step.pk]), HTTP_X_PICKY_FRAGMENT="1"
    )

    html = answer.content.decode()
    assert answer.status_code == 200
    assert html.strip().startswith('<div id="step-test-result"')
    rows = answer.context["step_rows"]
    assert [row["title"] for row in rows] == [
        "Step 2 · Tag by product",
        "Action 1 · Add Tag",
        "Action 2 · Set Variable",
    ]
    assert rows[1]["inputs"] == {"tags": ["Solar lamp"]}
    assert "Solar lamp" in rows[1]["outputs_json"]
    assert "<details open><summary>Inputs</summary>" in html
    # The earlier step ran too (its message not sent); the later one did not run.
    assert [row["title"] for row in answer.context["earlier_rows"]][0] == "Step 1 · Thank"
    assert "Later" not in html
    assert not (Tag.objects.exists() or Contact.objects.exists() or Message.objects.exists())


def test_without_a_sample_the_test_says_what_to_do(client, project, member):
    connector = build_connector(project, name="Empty", steps=[{"name": "One", "actions": []}])
    client.force_login(member)

    answer = client.post(reverse("admin:connectors_step_test", args=[connector.steps.get().pk]))

    assert "No sample payload yet" in answer.content.decode()


def test_the_page_offers_the_button_and_agents_get_nothing(client, leads, member, project):
    step = leads.steps.first()
    client.force_login(member)
    page = client.get(reverse("admin:connectors_step_change", args=[step.pk]))
    assert 'id="test-step"' in page.content.decode()
    assert client.get(reverse("admin:connectors_step_test", args=[step.pk])).status_code == 405

    agent = get_user_model().objects.create_user("agent", password="pw", is_staff=True)
    Membership.objects.create(project=project, user=agent, role=Membership.Role.AGENT)
    client.force_login(agent)
    assert client.post(reverse("admin:connectors_step_test", args=[step.pk])).status_code == 403


@pytest.mark.browser
def test_the_result_shows_under_the_button_in_a_browser(
    live_server, transactional_db, leads, member, screenshot_dir
):
    if not Path(browser.CHROMIUM).exists():
        pytest.skip(f"{browser.CHROMIUM} is not installed")
    step = leads.steps.get(name="Tag by product")
    with browser.browser_page() as page:
        browser.log_in(page, live_server.url)
        page.goto(f"{live_server.url}/admin/connectors/step/{step.pk}/change/")
        page.click("#test-step")
        result = page.locator("#step-test-result > .picky-timeline")
        result.wait_for()
        assert page.url.endswith(f"/step/{step.pk}/change/")
        assert result.locator(".picky-line").count() == 3
        assert "Solar lamp" in result.locator(".picky-line").nth(1).inner_text()
        page.locator("#step-test").scroll_into_view_if_needed()
        page.screenshot(path=str(screenshot_dir / "step-test.png"), full_page=True)
