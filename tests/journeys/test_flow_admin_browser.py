"""A chatbot flow built in the admin in a real browser, without JSON: steps added one by
one, each showing the fields of its kind, a branch row, saved; a screenshot of the page
(chatbot-flow.png, to $PICKY_SCREENSHOT_DIR when set: the README tour shows it)."""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from journeys.flows.models import Flow
from picky.models import Membership
from tests.connectors.test_admin_browser import CHROMIUM, browser_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]

STEPS = [
    ("Welcome", "message", {"text": "Hi {{ contact.name }}! Let's find your bike."}),
    ("Budget", "question", {"text": "What is your budget (in ₹)?", "attribute": "budget",
                            "answer_type": "number", "retry_text": "Just the number, please."}),
    ("Check budget", "branch", {}),
    ("Starter", "add_tag", {"tags": "Starter bikes", "go_to": "Done"}),
    ("Premium", "add_tag", {"tags": "Premium bikes"}),
    ("Done", "end", {}),
]  # fmt: skip


@pytest.fixture
def screenshot_dir(tmp_path):
    folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def session_cookie(transactional_db, client, project, sandbox, live_server):
    """An admin of the project, logged in: the browser carries her session."""
    user = get_user_model().objects.create_user("meera", is_staff=True)
    Membership.objects.create(project=project, user=user, role=Membership.Role.ADMIN)
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}


def test_a_flow_is_built_in_the_admin_step_by_step(
    live_server, project, session_cookie, screenshot_dir
):
    base = live_server.url
    with browser_page() as page:
        page.context.add_cookies([session_cookie])
        page.goto(f"{base}/admin/journeys/flow/add/")
        page.select_option("#id_project", str(project.pk))
        page.fill("#id_name", "Bike finder")
        add_step = page.locator("#steps-group .add-row a")
        for index, (name, kind, fields) in enumerate(STEPS):
            add_step.click()
            page.fill(f"#id_steps-{index}-name", name)
            page.select_option(f"#id_steps-{index}-kind", kind)
            for field, value in fields.items():
                selector = f"#id_steps-{index}-{field}"
                if field == "answer_type":
                    page.select_option(selector, value)
                else:
                    page.fill(selector, value)
        # A message step shows its message, not a question's fields.
        hidden = page.locator("#steps-0 .form-row.field-answer_type").is_hidden()
        shown = page.locator("#steps-1 .form-row.field-answer_type").is_visible()
        # A number question hides the choices a question of choices shows.
        choices_hidden = page.locator("#steps-1 .form-row.field-choices").is_hidden()
        page.locator("#branch_rows-group .add-row a").click()
        page.fill("#id_branch_rows-0-step", "Check budget")
        page.select_option("#id_branch_rows-0-match", "greater_than")
        page.fill("#id_branch_rows-0-value", "50000")
        page.fill("#id_branch_rows-0-go_to", "Premium")
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")
        page.screenshot(path=str(screenshot_dir / "chatbot-flow.png"), full_page=True)

    assert hidden and shown and choices_hidden
    flow = Flow.objects.get(name="Bike finder")
    assert list(flow.steps.values_list("name", "kind")) == [(n, k) for n, k, _ in STEPS]
    assert flow.branch_rows.get().go_to == "Premium"
