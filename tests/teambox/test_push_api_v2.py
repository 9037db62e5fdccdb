"""The Push API (POST /api/v2/push) replaying the documented Picky Assist v2 calls, quirks
included, through real HTTP (Django's test client) to the sandbox channel."""

import json
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import pytest
import time_machine
from django.test import Client

from crm.models import Contact
from picky.models import ApiToken
from teambox.models import Channel, Message, Push

URL = "/api/v2/push"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def raw_token(project):
    return ApiToken.issue(project, "crm")[1]


@pytest.fixture
def client():
    return Client(REMOTE_ADDR="203.0.113.9")


@pytest.fixture
def media(httpserver, local_outbound):
    httpserver.expect_request("/bill.pdf", method="HEAD").respond_with_data("")
    return httpserver.url_for("/bill.pdf")


def post(client, body, content_type="application/json", **extra):
    return client.post(URL, json.dumps(body), content_type=content_type, **extra)


def messages_of(response):
    """The messages the answer names, as stored now."""
    ids = [item["msg_id"] for item in response.json()["data"] if item["msg_id"]]
    return list(Message.objects.filter(pk__in=ids).order_by("pk"))


def test_a_template_push_with_application_8_as_a_number(
    client, raw_token, sandbox, eager_celery, django_capture_on_commit_callbacks
):
    body = {
        "token": raw_token,
        "application": 8,
        "template_id": "order_confirmation",
        "language": "en",
        "template_message": ["A-1042", 450, "Friday"],
        "data": [{"number": "919847012345"}, {"number": 919847054321, "template_message": ["B"]}],
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, body)
    answer = response.json()
    assert response.status_code == 200, answer
    assert answer["status"] == 100 and answer["message"] == "Success"
    assert answer["channel"] == "Sandbox"
    first, second = (Message.objects.get(pk=item["msg_id"]) for item in answer["data"])
    assert answer["data"][0] == {"msg_id": str(first.pk), "number": "919847012345",
                                 "status": 100, "message": "Queued"}  # fmt: skip
    assert (first.template, first.template_language, first.template_params) == (
        "order_confirmation", "en", ["A-1042", "450", "Friday"])  # fmt: skip
    assert second.template_params == ["B"] and second.address == "919847054321"
    assert first.status == Message.Status.DELIVERED and first.channel == sandbox
    assert str(first.push_id) == answer["push_id"] == str(second.push_id)
    assert Contact.objects.filter(number="919847054321").exists()


def test_the_dynamic_push_on_a_shared_number_with_its_quirks(
    client, raw_token, project, media, eager_celery, django_capture_on_commit_callbacks
):
    Channel.objects.create(project=project, name="WhatsApp", kind=Channel.Kind.WHATSAPP_CLOUD,
                           credentials={}, enabled=False)  # fmt: skip
    shared = Channel.objects.create(
        project=project, name="Shared", kind=Channel.Kind.SANDBOX, number="919737001155"
    )
    body = {
        "token": raw_token,
        "priority ": "0",
        "application": "919737001155",
        "globalmessage": "Your bill is attached",
        "globalmedia": media,
        "reference_number": "bill-run-7",
        "data": [
            {"number": "919847012345"},
            {"number ": "919847054321", "message": "Asha, your bill", "reference_number": "r2"},
        ],
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, body, content_type="text/plain")
    assert response.status_code == 200, response.json()
    first, second = messages_of(response)
    assert first.channel == shared and first.status == Message.Status.DELIVERED
    assert (first.body, first.media_url, first.reference_number) == (
        "Your bill is attached", media, "bill-run-7")  # fmt: skip
    assert (second.body, second.reference_number) == ("Asha, your bill", "r2")
    push = Push.objects.get()
    assert (push.numbers, push.queued, push.reference_number) == (2, 2, "bill-run-7")


def test_the_normal_post_of_zoho_and_zapier(client, raw_token, sandbox):
    call = {"token": raw_token, "application": "1", "globalmessage": "Hi",
            "data": [{"number": "919847012345"}]}  # fmt: skip
    response = client.post(f"{URL}?data={quote(json.dumps(call))}")
    assert response.status_code == 200 and response.json()["status"] == 100
    form = client.post(URL, {"data": json.dumps(call)})
    assert form.status_code == 200 and form.json()["status"] == 100
    encoded = client.post(URL, urlencode({"data": json.dumps(call)}), content_type=FORM)
    assert encoded.status_code == 200 and encoded.json()["status"] == 100
    assert Message.objects.filter(body="Hi").count() == 3


def test_a_bearer_header_carries_the_token_too(client, raw_token, sandbox):
    body = {"application": 101, "globalmessage": "Hi", "data": [{"number": "919847012345"}]}
    response = post(client, body, HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    assert response.json()["status"] == 100


def test_a_bad_number_fails_its_entry_only(client, raw_token, sandbox):
    numbers = ["+919847012345", "0919847012345", "98470", "919847012345", None]
    body = {"token": raw_token, "application": "2", "globalmessage": "Hi",
            "data": [{"number": n} for n in numbers] + [{"phone": "919847054321"}]}  # fmt: skip
    answer = post(client, body).json()
    assert answer["status"] == 100
    statuses = [(item["number"], item["status"], bool(item["msg_id"])) for item in answer["data"]]
    assert statuses == [("+919847012345", 104, False), ("0919847012345", 104, False),
                        ("98470", 104, False), ("919847012345", 100, True), (None, 104, False),
                        (None, 104, False)]  # fmt: skip
    assert "without + or leading zeros" in answer["data"][0]["message"]
    assert Message.objects.get().address == "919847012345"


def test_a_call_where_nothing_is_sent_is_a_failure(client, raw_token, sandbox):
    body = {"token": raw_token, "application": 8, "globalmessage": "Hi",
            "data": [{"number": "+44 20 7946 0000"}]}  # fmt: skip
    response = post(client, body)
    assert response.status_code == 400
    assert response.json()["status"] == 104
    assert response.json()["message"].startswith("Nothing was sent: '+44 20 7946 0000'")
    assert not Message.objects.exists()


def test_tokens_and_addresses_refused(client, project, raw_token, sandbox):
    body = {"application": 8, "globalmessage": "Hi", "data": [{"number": "919847012345"}]}
    missing = post(client, body)
    assert missing.status_code == 401
    assert missing.json()["status"] == 101 and "No API token" in missing.json()["message"]
    wrong = post(client, {**body, "token": "pk_not-a-token"})
    assert wrong.status_code == 401
    assert wrong.json() == {"status": 101, "message": "Unknown or revoked API token."}
    token, raw = ApiToken.issue(project, "office", allowed_ip="198.51.100.7")
    elsewhere = post(client, {**body, "token": raw})
    assert elsewhere.status_code == 403
    assert elsewhere.json() == {
        "status": 102, "message": "This API token is not allowed from your IP."}  # fmt: skip
    at_office = Client(REMOTE_ADDR="198.51.100.7")
    assert post(at_office, {**body, "token": raw}).json()["status"] == 100
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert Message.objects.count() == 1


def test_missing_and_malformed_fields(client, raw_token, sandbox):
    no_application = post(client, {"token": raw_token, "data": [{"number": "919847012345"}]})
    assert no_application.status_code == 400
    assert no_application.json() == {
        "status": 103, "message": "application: This field is required."}  # fmt: skip
    no_data = post(client, {"token": raw_token, "application": 8, "data": []}).json()
    assert no_data["status"] == 103 and no_data["message"].startswith("data: ")
    bad_entry = post(client, {"token": raw_token, "application": 8, "data": ["919847012345"]})
    assert bad_entry.json()["status"] == 103 and "data[0]" in bad_entry.json()["message"]
    nothing = post(
        client, {"token": raw_token, "application": 8, "data": [{"number": "919847012345"}]}
    )
    assert nothing.json()["status"] == 103 and "Nothing to send" in nothing.json()["message"]
    broken = client.post(URL, '{"token": "x", ', content_type="application/json")
    assert broken.status_code == 400 and broken.json()["status"] == 110
    get = client.get(URL)
    assert get.status_code == 405 and get["Allow"] == "POST"
    assert get.json() == {"status": 103, "message": 'Method "GET" not allowed.'}
    assert not Message.objects.exists()


def test_the_application_must_name_an_enabled_channel(
    client, project, other_project, raw_token, sandbox
):
    def answer(application):
        body = {"token": raw_token, "application": application, "globalmessage": "Hi",
                "data": [{"number": "919847012345"}]}  # fmt: skip
        return post(client, body).json()

    assert answer(3)["status"] == 105 and "no SMS channels" in answer(3)["message"]
    ours = Channel.objects.create(pk=5000, project=project, name="Ours", kind="sandbox")
    theirs = Channel.objects.create(
        pk=5001, project=other_project, name="Theirs", kind="sandbox", number="919700000001"
    )
    assert answer(str(theirs.pk))["status"] == 105
    assert answer(theirs.number)["status"] == 105
    assert answer(ours.pk)["status"] == 100
    assert Message.objects.get().channel == ours
    ours.enabled = False
    ours.save()
    sandbox.enabled = False
    sandbox.save()
    disabled = answer(8)
    assert disabled == {
        "status": 106,
        "message": "The channel 'Sandbox' is disabled: enable it under Teambox → Channels.",
    }
    assert answer("Sandbox")["status"] == 106
    Message.objects.all().delete()
    Channel.objects.filter(project=project).delete()
    assert "has no WhatsApp Official channel" in answer(8)["message"]


def test_media_urls_that_redirect_are_refused(
    client, raw_token, sandbox, httpserver, local_outbound
):
    httpserver.expect_request("/short").respond_with_data("", 302, {"Location": "/file.jpg"})
    httpserver.expect_request("/file.jpg").respond_with_data("")
    file_url = httpserver.url_for("/file.jpg")
    body = {"token": raw_token, "application": 8, "globalmessage": "Look",
            "data": [{"number": "919847012345", "media-url": httpserver.url_for("/short")},
                     {"number": "919847054321", "media-url": file_url}]}  # fmt: skip
    answer = post(client, body).json()
    refused, sent = answer["data"]
    assert refused["status"] == 107 and "redirects" in refused["message"]
    assert sent["status"] == 100
    assert Message.objects.get().media_url == httpserver.url_for("/file.jpg")


def test_over_the_rate_limit_nothing_is_sent(client, project, raw_token, sandbox):
    project.api_rate_limit_per_minute = 1
    project.save()
    body = {"token": raw_token, "application": 8, "globalmessage": "Hi",
            "data": [{"number": "919847012345"}]}  # fmt: skip
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, 5, tzinfo=UTC), tick=False):
        assert post(client, body).json()["status"] == 100
        over = post(client, body)
    assert over.status_code == 429 and over["Retry-After"] == "55"
    assert over.json()["status"] == 109
    assert Message.objects.count() == 1 and Push.objects.count() == 1


def test_the_push_api_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v2/push"]["post"]
    assert operation["summary"].startswith("Send messages")
    assert set(operation["responses"]) >= {"200", "401", "429"}
