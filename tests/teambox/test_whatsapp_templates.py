"""WhatsApp templates of an official channel: read from Meta's API in its own format (a
local server speaks it), approved ones only, their parameters found in the body, kept a few
minutes, offered by the send form's picker with their language and parameters."""

import json
from pathlib import Path

import pytest
from django.core.cache import cache
from django.urls import reverse
from werkzeug import Response

from actions.pickers import names_for
from teambox.channels import ChannelError, adapter_for
from teambox.whatsapp_templates import channel_templates
from tests.builders import build_connector
from tests.connectors import test_admin_browser as browser

WABA = "102290129340398"
# The browser tests' fixture: where screenshots go.
screenshot_dir = browser.screenshot_dir

ORDER_UPDATE = {
    "name": "order_update",
    "parameter_format": "POSITIONAL",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Your order"},
        {"type": "BODY", "text": "Hi {{1}}, your order {{2}} ships today.",
         "example": {"body_text": [["Asha", "A-17"]]}},
        {"type": "FOOTER", "text": "Reply STOP to stop"},
    ],
    "language": "en_US",
    "status": "APPROVED",
    "category": "UTILITY",
    "id": "1",
}  # fmt: skip
RESERVATION = {
    "name": "reservation_confirmation",
    "parameter_format": "NAMED",
    "components": [
        {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["https://x/y"]}},
        {"type": "BODY", "text": "See you {{day}} at {{time}}, {{day}}!"},
    ],
    "language": "en",
    "status": "APPROVED",
    "category": "UTILITY",
    "id": "2",
}
PENDING = {**ORDER_UPDATE, "name": "summer_sale", "status": "PENDING", "id": "3"}


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


@pytest.fixture
def official(cloud):
    cloud.credentials = {**cloud.credentials, "business_account_id": WABA}
    cloud.save()
    return cloud


@pytest.fixture
def meta(httpserver, official):
    """Meta's template list in two pages, as the Graph API pages it."""
    path = f"/v21.0/{WABA}/message_templates"

    def answer(request):
        if request.headers.get("Authorization") != "Bearer EAAG-test-token":
            return Response(json.dumps({"error": {"message": "Invalid token", "code": 190}}),
                            status=401, content_type="application/json")  # fmt: skip
        if request.args.get("after") == "QVFIUk":
            page = {"data": [RESERVATION], "paging": {"cursors": {"before": "QVFIUk"}}}
        else:
            page = {
                "data": [ORDER_UPDATE, PENDING],
                "paging": {
                    "cursors": {"before": "MAZDZD", "after": "QVFIUk"},
                    "next": f"https://graph.facebook.com/v21.0/{WABA}/message_templates?after=QVFIUk",
                },
            }
        return Response(json.dumps(page), content_type="application/json")

    httpserver.expect_request(path).respond_with_handler(answer)
    return httpserver


def test_the_approved_templates_are_listed_with_their_parameters(meta, official):
    templates = adapter_for(official).list_templates()

    assert [(t["name"], t["language"], t["parameters"]) for t in templates] == [
        ("order_update", "en_US", ["1", "2"]),
        ("reservation_confirmation", "en", ["day", "time"]),
    ]
    first, second = (request for request, _ in meta.log)
    assert first.args["fields"] == "name,language,status,category,parameter_format,components"
    assert (first.args.get("after"), second.args["after"]) == (None, "QVFIUk")


def test_they_are_kept_a_while(meta, official):
    channel_templates(official)
    channel_templates(official)

    assert len(meta.log) == 2  # the two pages, once


def test_a_channel_without_its_business_account_or_refused_says_why(cloud, httpserver, sandbox):
    with pytest.raises(ChannelError, match="has no WhatsApp Business Account id"):
        adapter_for(cloud).list_templates()
    with pytest.raises(ChannelError, match="Sandbox channels have no WhatsApp templates"):
        adapter_for(sandbox).list_templates()

    cloud.credentials = {**cloud.credentials, "business_account_id": WABA, "access_token": "x"}
    httpserver.expect_request(f"/v21.0/{WABA}/message_templates").respond_with_json(
        {"error": {"message": "Invalid OAuth access token.", "code": 190}}, status=401
    )
    with pytest.raises(ChannelError, match=r"refused the templates \(HTTP 401\): Invalid OAuth"):
        adapter_for(cloud).list_templates()


def test_the_send_form_offers_them_and_their_parameters(client, meta, project, member):
    client.force_login(member)

    assert names_for("whatsapp_templates", project, "order") == ["order_update"]
    answer = client.get(
        reverse("admin:actions_action_whatsapp_template"),
        {"project": project.pk, "name": "reservation_confirmation"},
    )
    assert answer.json()["parameters"] == ["day", "time"]
    missing = client.get(
        reverse("admin:actions_action_whatsapp_template"),
        {"project": project.pk, "name": "summer_sale"},
    )
    assert missing.status_code == 404


@pytest.mark.browser
def test_choosing_a_template_shows_a_box_per_value(
    live_server, transactional_db, meta, project, member, screenshot_dir
):
    if not Path(browser.CHROMIUM).exists():
        pytest.skip(f"{browser.CHROMIUM} is not installed")
    step = build_connector(project, name="Orders", steps=[{"name": "Tell"}]).steps.get()
    with browser.browser_page() as page:
        browser.log_in(page, live_server.url)
        page.goto(f"{live_server.url}/admin/actions/action/add/?type=send_message&step={step.pk}")
        page.click("#id_config__template")
        page.keyboard.type("order")
        page.locator(".picky-picker-list li", has_text="order_update").click()
        values = page.locator(".picky-builder-rows-list .picky-item-value")
        values.nth(1).wait_for()
        assert page.input_value("#id_config__template_language") == "en_US"
        assert [values.nth(i).get_attribute("placeholder") for i in range(2)] == [
            "{{1}}",
            "{{2}}",
        ]
        page.locator("#id_config__template").scroll_into_view_if_needed()
        page.screenshot(path=str(screenshot_dir / "whatsapp-template.png"), full_page=True)
