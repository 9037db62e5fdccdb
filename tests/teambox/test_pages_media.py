"""Inbound media in the conversation's timeline (teambox/media.py, the partial
message_media.html) and Picky's proxy of WhatsApp Cloud API media (teambox/pages/media.py)
against a local server speaking the Graph API."""

import hashlib
import hmac
import json
import os
import struct
import zlib
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from teambox.assignment import assign_users
from teambox.conversations import record_inbound
from teambox.models import Conversation, Message
from tests.builders import build_agent

PHONE_NUMBER_ID = "106540352242922"
TOKEN = "EAAG-test-token"
CHROMIUM = "/usr/bin/chromium"


def png(width=48, height=32, rgb=(31, 111, 235)):
    """A solid-colour PNG."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def webhook(number, *messages):
    """A WhatsApp Cloud API webhook body with `messages` (type and content) from `number`."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"phone_number_id": PHONE_NUMBER_ID},
                            "contacts": [{"profile": {"name": "Lead"}, "wa_id": number}],
                            "messages": [
                                {
                                    "from": number,
                                    "id": f"wamid.media.{n}",
                                    "timestamp": str(1767225600 + n),
                                    **message,
                                }
                                for n, message in enumerate(messages)
                            ],
                        },
                    }
                ],
            }
        ],
    }


def receive(channel, number, *messages):
    """Post the webhook to the channel as Meta would; the messages stored, oldest first."""
    body = json.dumps(webhook(number, *messages)).encode()
    signature = "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    response = Client().post(
        channel.webhook_path,
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature},
    )
    assert response.status_code == 200, response.content
    return received(channel)


def received(channel):
    return list(
        Message.objects.filter(channel=channel, direction="in").order_by("created_at", "pk")
    )


IMAGE = {
    "type": "image",
    "image": {"id": "1001", "mime_type": "image/png", "caption": "The <b>broken</b> lamp"},
}
DOCUMENT = {
    "type": "document",
    "document": {
        "id": "1002",
        "mime_type": "application/pdf",
        "filename": "<script>x</script>invoice.pdf",
    },
}
VOICE = {
    "type": "audio",
    "audio": {"id": "1003", "mime_type": "audio/ogg; codecs=opus", "voice": True},
}
ORDER = {
    "type": "order",
    "order": {
        "catalog_id": "55",
        "text": "Deliver <i>before</i> Friday",
        "product_items": [
            {"product_retailer_id": "lamp-<img src=x>", "quantity": 2, "item_price": 499.5,
             "currency": "INR"},
            {"product_retailer_id": "bulb-9w", "quantity": 10, "item_price": 80, "currency": "INR"},
        ],
    },
}  # fmt: skip
BUTTON = {"type": "button", "button": {"text": "Yes, <u>call</u> me", "payload": "CALL"}}
LIST_REPLY = {
    "type": "interactive",
    "interactive": {"type": "list_reply", "list_reply": {"id": "r2", "title": "Tomorrow 10:00"}},
}


@pytest.fixture
def cloud_chat(team, cloud):
    """Anita's chat with lead 01 on the WhatsApp Cloud channel (Bala's is not)."""
    contact = team["chats"]["a_own"].contact
    receive(cloud, contact.number, IMAGE, DOCUMENT, VOICE, ORDER, BUTTON, LIST_REPLY)
    chat = Conversation.objects.get(channel=cloud, contact=contact)
    assign_users(chat, [team["a"]])
    return chat


def media_url(message):
    return reverse("teambox_pages:media", args=[message.project.slug, message.pk])


def page_of(client, chat):
    response = client.get(reverse("teambox_pages:conversation", args=[chat.project.slug, chat.pk]))
    assert response.status_code == 200
    return response.content.decode().split('id="timeline"')[1]


def test_each_kind_of_media_renders_escaped(client, team, cloud, cloud_chat, sandbox):
    image, document, voice, order, button, list_reply = received(cloud)[:6]
    Client().post(
        sandbox.webhook_path,
        {"number": cloud_chat.contact.number, "message": "Photo of the box",
         "media-url": "https://cdn.example.com/up/box.JPG"},
        content_type="application/json",
    )  # fmt: skip
    client.force_login(team["a"])
    text = page_of(client, cloud_chat)
    # Media the provider keeps behind the token go through Picky's proxy.
    assert f'<img class="media-image" src="{media_url(image)}"' in text
    assert "The &lt;b&gt;broken&lt;/b&gt; lamp" in text
    assert f'href="{media_url(document)}"' in text
    assert "&lt;script&gt;x&lt;/script&gt;invoice.pdf</a>" in text
    assert f'href="{media_url(voice)}"' in text and "Voice note" in text
    # An order's products, a button reply's title.
    assert "Order · 2 products" in text
    assert "<td>lamp-&lt;img src=x&gt;</td><td>2</td><td>499.5 INR</td>" in text
    assert "Deliver &lt;i&gt;before&lt;/i&gt; Friday" in text
    assert '<span class="button-reply">Yes, &lt;u&gt;call&lt;/u&gt; me</span>' in text
    assert '<span class="button-reply">Tomorrow 10:00</span>' in text
    # A media web address (sandbox, Push API) is shown as it is, with the message's text.
    assert '<img class="media-image" src="https://cdn.example.com/up/box.JPG"' in text
    assert "Photo of the box" in text
    for raw in ("<script>", "<b>broken", "<img src=x>", "<u>call", "<i>before"):
        assert raw not in text
    # The stored text says what the message was, for the inbox and the automations.
    assert order.body == "[order] 2 products Deliver <i>before</i> Friday"
    assert (button.body, list_reply.body) == ("Yes, <u>call</u> me", "Tomorrow 10:00")


def test_a_media_address_that_is_not_a_web_address_is_not_linked(client, team, sandbox):
    chat = team["chats"]["a_own"]
    message = Message.objects.create(
        project=chat.project, channel=sandbox, contact=chat.contact, direction="in",
        address=chat.contact.number, body="look", media_url="javascript:alert(1)",
    )  # fmt: skip
    record_inbound(message)
    client.force_login(team["a"])
    text = page_of(client, chat)
    assert "look" in text and "javascript:" not in text


def expect_graph(httpserver, media_id, content, mime_type, file_size=None):
    """The Graph API: the media's address, then the file, both only with the token."""
    info = {
        "messaging_product": "whatsapp",
        "url": httpserver.url_for(f"/whatsapp_business/attachments/{media_id}"),
        "mime_type": mime_type,
        "sha256": hashlib.sha256(content).hexdigest(),
        "file_size": str(len(content) if file_size is None else file_size),
        "id": media_id,
    }
    auth = {"Authorization": f"Bearer {TOKEN}"}
    httpserver.expect_oneshot_request(
        f"/v21.0/{media_id}", method="GET", headers=auth,
        query_string={"phone_number_id": PHONE_NUMBER_ID},
    ).respond_with_json(info)  # fmt: skip
    httpserver.expect_oneshot_request(
        f"/whatsapp_business/attachments/{media_id}", method="GET", headers=auth
    ).respond_with_data(content, content_type=mime_type)


def test_the_proxy_fetches_media_through_the_graph_api_with_the_token(
    client, team, cloud, cloud_chat, httpserver
):
    image, document = received(cloud)[:2]
    expect_graph(httpserver, "1001", png(), "image/png")
    expect_graph(httpserver, "1002", b"%PDF-1.4 invoice", "application/pdf")
    client.force_login(team["a"])
    shown = client.get(media_url(image))
    assert shown.status_code == 200
    assert (shown.content, shown["Content-Type"]) == (png(), "image/png")
    assert shown["Content-Disposition"].startswith("inline")
    assert shown["Cache-Control"] == "private, max-age=300"
    assert "sandbox" in shown["Content-Security-Policy"]
    assert shown["X-Content-Type-Options"] == "nosniff"
    # A document is a download under its own name.
    pdf = client.get(media_url(document))
    assert (pdf.status_code, pdf.content, pdf["Content-Type"]) == (
        200,
        b"%PDF-1.4 invoice",
        "application/pdf",
    )
    assert pdf["Content-Disposition"] == 'attachment; filename="scriptxscriptinvoice.pdf"'
    httpserver.check_assertions()


def test_the_proxy_refuses_whoever_does_not_see_the_chat(
    client, team, cloud, cloud_chat, other_project, httpserver
):
    image = received(cloud)[0]
    client.force_login(team["b"])
    assert client.get(media_url(image)).status_code == 404
    # Not under another project's address either, nor logged out.
    stranger = build_agent(other_project, "sam").user
    client.force_login(stranger)
    other = reverse("teambox_pages:media", args=[other_project.slug, image.pk])
    assert client.get(other).status_code == 404
    client.logout()
    assert client.get(media_url(image)).status_code == 302
    # Nothing was asked of the Graph API.
    assert httpserver.log == []


def test_a_file_larger_than_the_cap_is_refused(
    client, team, cloud, cloud_chat, httpserver, settings
):
    settings.PICKY_TEAMBOX_MEDIA_MAX_BYTES = 1000
    image, document = received(cloud)[:2]
    client.force_login(team["a"])
    # The Graph API says the file's size: it is not downloaded at all.
    expect_graph(httpserver, "1001", png(), "image/png", file_size=5_000_000)
    refused = client.get(media_url(image))
    assert refused.status_code == 502
    assert refused.content.decode() == (
        "The file (4.8 MB) is larger than the 0.0 MB Picky shows "
        "(PICKY_TEAMBOX_MEDIA_MAX_BYTES). Open it in WhatsApp instead."
    )
    assert refused["Cache-Control"] == "no-store"
    assert len(httpserver.log) == 1
    # A size the Graph API did not admit to is cut off while downloading.
    expect_graph(httpserver, "1002", b"%" * 5000, "application/pdf", file_size="")
    cut = client.get(media_url(document))
    assert cut.status_code == 502
    assert "is larger than the 0.0 MB Picky shows" in cut.content.decode()


def test_a_graph_api_refusal_is_explained(client, team, cloud, cloud_chat, httpserver):
    image = received(cloud)[0]
    httpserver.expect_oneshot_request("/v21.0/1001").respond_with_json(
        {"error": {"message": "Invalid OAuth access token.", "code": 190}}, status=401
    )
    client.force_login(team["a"])
    refused = client.get(media_url(image))
    assert refused.status_code == 502
    assert refused.content.decode() == (
        "WhatsApp Cloud API refused the media's address (HTTP 401): "
        "Invalid OAuth access token. (code 190)"
    )


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed")
def test_the_agent_sees_the_image_in_a_real_browser(
    live_server, transactional_db, team, cloud, cloud_chat, httpserver, tmp_path
):
    from playwright.sync_api import expect, sync_playwright

    expect_graph(httpserver, "1001", png(240, 160), "image/png")
    agent = Client()
    agent.force_login(team["a"])
    session = agent.cookies["sessionid"].value
    url = reverse("teambox_pages:conversation", args=[cloud_chat.project.slug, cloud_chat.pk])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(live_server.url + url)
        image = page.locator(".media-image").first
        image.scroll_into_view_if_needed()
        # Loaded from Picky's proxy, which the page's CSP allows (img-src 'self').
        expect(image).to_have_js_property("naturalWidth", 240)
        folder = Path(os.environ.get("PICKY_SCREENSHOT_DIR") or tmp_path)
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / "conversation_media.png"))
        browser.close()
