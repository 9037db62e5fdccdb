"""A signed-in staff member's upload may take PICKY_UPLOAD_READ_SECONDS to arrive
(picky/upload_deadline.py); every other request is still cut at PICKY_REQUEST_READ_SECONDS.
Against a real gunicorn run with gunicorn.conf.py, as tests/picky/test_gunicorn_worker.py."""

import http.client
import socket
import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from crm.models import Field, Module, RecordImport
from picky.gunicorn_worker import RequestSource
from picky.upload_deadline import StaffUploadDeadline, serving_source
from tests.servers import answer, connect, request_head, requires_postgres, running_gunicorn

READ_SECONDS = 1
UPLOAD_READ_SECONDS = 5
# Small, so that one upload goes to a thread at once and a smaller one waits on the poller.
PAYLOAD_LIMIT = 4096
CSRF_TOKEN = "t" * 32
# The last bytes of a request come one every DRIP_SECONDS: from the first to the last,
# longer than the short deadline.
DRIPPED_BYTES = 20
DRIP_SECONDS = 0.1
SENDING_SECONDS = (DRIPPED_BYTES - 1) * DRIP_SECONDS


def deadline_after(request, user=None):
    """The read deadline StaffUploadDeadline leaves to `request` (sent by `user`; None:
    nothing may read who sent it), served as by Picky's worker."""
    if user is not None:
        request.user = user
    source = RequestSource(None, b"", opened=0.0, seconds=READ_SECONDS)
    token = serving_source.set(source)
    try:
        StaffUploadDeadline(lambda request: None)(request)
    finally:
        serving_source.reset(token)
    return source.deadline


def test_a_staff_members_multipart_post_gets_the_upload_deadline(member, settings):
    settings.PICKY_UPLOAD_READ_SECONDS = UPLOAD_READ_SECONDS
    post = RequestFactory().post("/admin/crm/record/import/", {"file": b"Name\n"})
    assert deadline_after(post, member) == UPLOAD_READ_SECONDS
    member.is_staff = False
    assert deadline_after(post, member) == READ_SECONDS


def test_a_json_post_or_a_get_keeps_the_short_deadline_unasked_who_sent_it(member):
    factory = RequestFactory()
    assert deadline_after(factory.post("/hooks/x", {}, content_type="application/json")) == (
        READ_SECONDS
    )
    assert deadline_after(factory.get("/admin/")) == READ_SECONDS


def test_without_picky_s_worker_nothing_changes(member):
    post = RequestFactory().post("/admin/crm/record/import/", {"file": b"Name\n"})
    post.user = member
    assert StaffUploadDeadline(lambda request: "served")(post) == "served"


# Through gunicorn ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """gunicorn's MEDIA_ROOT, where an import keeps its file."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def web(django_db_setup, media):
    with running_gunicorn(
        PICKY_REQUEST_READ_SECONDS=str(READ_SECONDS),
        PICKY_UPLOAD_READ_SECONDS=str(UPLOAD_READ_SECONDS),
        PICKY_MAX_PAYLOAD_BYTES=str(PAYLOAD_LIMIT),
        MEDIA_ROOT=str(media),
    ) as port:
        yield port


@pytest.fixture
def patients(project):
    module = Module.objects.create(project=project, name="Patients")
    Field.objects.create(module=module, key="name_field", label="Name", type="text")
    return module


def session_cookie(user):
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def csv_upload(module, text, cookies):
    body = encode_multipart(
        BOUNDARY,
        {
            "csrfmiddlewaretoken": CSRF_TOKEN,
            "file": SimpleUploadedFile("patients.csv", text.encode(), "text/csv"),
        },
    )
    cookie = "; ".join([f"{settings.CSRF_COOKIE_NAME}={CSRF_TOKEN}", *cookies])
    headers = [f"Content-Type: {MULTIPART_CONTENT}", f"Content-Length: {len(body)}"]
    path = f"/admin/crm/record/import/?module={module.pk}"
    return request_head("POST", path, [*headers, f"Cookie: {cookie}"]) + body


def trickle(port, request):
    """Send `request`, its last DRIPPED_BYTES a byte every DRIP_SECONDS, until the server
    answers; (status, headers, body, bytes left unsent, seconds from connecting)."""
    started = time.monotonic()
    at_once, dripped = request[:-DRIPPED_BYTES], request[-DRIPPED_BYTES:]
    unsent = len(dripped)
    with connect(port) as sock:
        sock.sendall(at_once)
        sock.settimeout(DRIP_SECONDS)
        for byte in dripped:
            try:
                sock.sendall(bytes([byte]))
                unsent -= 1
                # Waits DRIP_SECONDS for an answer, which stays to be read.
                if sock.recv(1, socket.MSG_PEEK):
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        sock.settimeout(30)
        try:
            status, headers, body = answer(sock)
        except (OSError, http.client.HTTPException):
            status, headers, body = None, {}, b""
    return status, headers, body, unsent, time.monotonic() - started


def assert_cut_at_the_short_deadline(unsent, seconds):
    assert unsent > 0
    assert READ_SECONDS <= seconds < SENDING_SECONDS


@requires_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rows", [10, 1000], ids=["under the payload limit", "over it"])
def test_a_staff_members_slow_upload_arrives_whole(web, media, member, patients, rows):
    text = "Name\n" + "".join(f"Patient {n}\n" for n in range(rows))
    request = csv_upload(patients, text, [session_cookie(member)])
    assert (len(request) > PAYLOAD_LIMIT) == (rows == 1000)
    status, headers, body, unsent, seconds = trickle(web, request)
    assert status == 302, body
    record_import = RecordImport.objects.get(module=patients)
    assert headers["Location"].endswith(f"/import/{record_import.pk}/")
    assert unsent == 0
    assert seconds > SENDING_SECONDS > READ_SECONDS
    assert (media / record_import.file.name).read_text() == text


@requires_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("signed_in", ["nobody", "a member who is not staff"])
def test_an_upload_by_anyone_else_is_cut_at_the_short_deadline(web, patients, signed_in):
    cookies = []
    if signed_in != "nobody":
        user = get_user_model().objects.create_user("visitor", password="pw-visitor-1")
        cookies.append(session_cookie(user))
    text = "Name\n" + "".join(f"Patient {n}\n" for n in range(1000))
    status, headers, body, unsent, seconds = trickle(web, csv_upload(patients, text, cookies))
    assert status == 302, body
    assert "/admin/login/" in headers["Location"]
    assert_cut_at_the_short_deadline(unsent, seconds)
    assert not RecordImport.objects.exists()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_staff_members_json_post_is_cut_at_the_short_deadline(web, member, sandbox):
    # A channel's webhook, which passes through the site's middleware (a connector's does not).
    body = b'{"name": "' + b"a" * 100 + b'"}'
    headers = ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    path = f"/channels/{sandbox.token}/webhook"
    request = request_head("POST", path, [*headers, f"Cookie: {session_cookie(member)}"])
    status, _, answered, unsent, seconds = trickle(web, request + body)
    assert status == 400, answered
    assert b"incomplete_body" in answered
    assert_cut_at_the_short_deadline(unsent, seconds)
