"""The one body reader (picky/request_body.py): chunked and Content-Length bodies, the
limit, short and stalled bodies; through Django's request objects, then through a real
gunicorn for the connector ingest and the channel webhook."""

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.handlers.wsgi import WSGIRequest
from gunicorn.http.errors import InvalidChunkSize

from connectors.models import Event
from picky.request_body import BodyError, read_body
from teambox.models import Channel, Message
from tests.servers import chunked, exchange, request_head, requires_postgres, running_gunicorn


def wsgi_request(stream, content_type="application/json", length=None, **environ):
    """A POST whose body is `stream`; without `length`, no Content-Length, as a chunked
    body reaches the application."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/hooks/x",
        "CONTENT_TYPE": content_type,
        "wsgi.input": stream,
        **environ,
    }
    if length is not None:
        environ["CONTENT_LENGTH"] = str(length)
    setup_testing_defaults(environ)
    return WSGIRequest(environ)


def chunked_request(body, **kwargs):
    """What gunicorn hands Django for a chunked body: no Content-Length, the decoded body
    on wsgi.input, and wsgi.input_terminated (reading to the end is safe)."""
    return wsgi_request(
        io.BytesIO(body),
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input_terminated": True},
        **kwargs,
    )


def test_a_chunked_body_is_read_to_its_end():
    body = json.dumps({"name": "Asha", "notes": "ä" * 100_000}).encode()
    request = chunked_request(body)
    assert read_body(request) == body
    assert request.body == body


def test_a_chunked_form_is_still_parsed_by_django():
    boundary = "picky-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nAsha\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    request = chunked_request(body, content_type=f"multipart/form-data; boundary={boundary}")
    read_body(request)
    assert request.POST["name"] == "Asha"


def test_a_chunked_body_over_the_limit_is_refused_with_what_came_kept(settings):
    settings.PICKY_MAX_PAYLOAD_BYTES = 1000
    request = chunked_request(b"x" * 5000)
    with pytest.raises(BodyError) as refused:
        read_body(request)
    assert refused.value.status == 413
    assert "over the limit of 1000 bytes" in refused.value.message
    # One byte past the limit is read, no more; the rejected event's log reads it.
    assert request.body == b"x" * 1001


def test_a_content_length_over_the_limit_is_refused_unread(settings):
    settings.PICKY_MAX_PAYLOAD_BYTES = 1000
    stream = io.BytesIO(b"x" * 5000)
    with pytest.raises(BodyError) as refused:
        read_body(wsgi_request(stream, length=5000))
    assert refused.value.status == 413
    assert stream.tell() == 0


def test_a_body_shorter_than_its_content_length_is_a_400():
    request = wsgi_request(io.BytesIO(b'{"a": 1'), length=100)
    with pytest.raises(BodyError) as refused:
        read_body(request)
    assert (refused.value.status, refused.value.code) == (400, "incomplete_body")
    assert "stopped after 7 of the 100 bytes" in refused.value.message
    assert request.body == b'{"a": 1'


class StallingStream:
    """A server's input that gives a few bytes, then times out."""

    def __init__(self, first):
        self.pieces = [first]

    def read(self, size=-1):
        if self.pieces:
            return self.pieces.pop()
        raise TimeoutError("timed out")

    readline = read


def test_a_stalled_body_is_a_400_with_what_came_kept():
    request = wsgi_request(StallingStream(b'{"a"'), length=100)
    with pytest.raises(BodyError) as refused:
        read_body(request)
    assert (refused.value.status, refused.value.code) == (400, "incomplete_body")
    assert "did not arrive in full (100 bytes, by its Content-Length)" in refused.value.message
    assert request.body == b'{"a"'


class MalformedChunks:
    def read(self, size=-1):
        raise InvalidChunkSize(b"zz")

    readline = read


def test_malformed_chunks_are_a_400():
    request = wsgi_request(MalformedChunks(), **{"wsgi.input_terminated": True})
    with pytest.raises(BodyError) as refused:
        read_body(request)
    assert (refused.value.status, refused.value.code) == (400, "malformed_body")


def test_a_chunked_body_a_server_cannot_end_is_refused_not_read_as_empty():
    request = wsgi_request(io.BytesIO(b"{}"), HTTP_TRANSFER_ENCODING="chunked")
    with pytest.raises(BodyError) as refused:
        read_body(request)
    assert refused.value.status == 411


def test_a_content_length_that_is_not_a_number_is_a_400():
    with pytest.raises(BodyError) as refused:
        read_body(wsgi_request(io.BytesIO(b"{}"), length="12a"))
    assert (refused.value.status, refused.value.code) == (400, "invalid_content_length")


# Through gunicorn ---------------------------------------------------------------------

LIMIT = 64 * 1024
READ_SECONDS = 2


@pytest.fixture(scope="module")
def web(django_db_setup):
    with running_gunicorn(
        PICKY_MAX_PAYLOAD_BYTES=str(LIMIT), PICKY_REQUEST_READ_SECONDS=str(READ_SECONDS)
    ) as port:
        yield port


def post_chunked(port, path, body, size=1000):
    head = request_head(
        "POST", path, ["Content-Type: application/json", "Transfer-Encoding: chunked"]
    )
    return exchange(port, head, chunked(body, size))


@pytest.fixture
def sandbox(transactional_db, project):
    return Channel.objects.create(project=project, name="Sandbox", kind=Channel.Kind.SANDBOX)


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_chunked_webhook_is_stored_intact(web, connector):
    payload = {"name": "Asha", "notes": "naïve " * 5000, "items": list(range(1000))}
    status, _, body, _ = post_chunked(web, connector.path, json.dumps(payload).encode())
    assert status == 200, body
    assert Event.objects.get(pk=json.loads(body)["event"]).payload == payload


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_chunked_channel_webhook_is_stored_intact(web, sandbox):
    text = "Where is my order? " * 2000
    data = {"number": "919847012345", "name": "Asha", "message": text}
    status, _, body, _ = post_chunked(
        web, f"/channels/{sandbox.token}/webhook", json.dumps(data).encode()
    )
    assert status == 200, body
    assert Message.objects.get(channel=sandbox, direction="in").body == text


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_chunked_webhook_over_the_limit_is_a_413(web, connector, sandbox):
    too_large = json.dumps({"notes": "x" * (LIMIT + 10)}).encode()
    for path in (connector.path, f"/channels/{sandbox.token}/webhook"):
        status, headers, body, _ = post_chunked(web, path, too_large, size=16 * 1024)
        assert status == 413, body
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body)["error"] == "payload_too_large"
    rejected = Event.objects.get(connector=connector)
    assert rejected.status == Event.Status.REJECTED


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_short_body_gets_a_json_400_at_the_read_deadline(web, connector, sandbox):
    for path in (connector.path, f"/channels/{sandbox.token}/webhook"):
        head = request_head("POST", path, ["Content-Type: application/json", "Content-Length: 100"])
        status, _, body, seconds = exchange(web, head, b'{"name": "As')
        assert status == 400, body
        answer = json.loads(body)
        assert answer["error"] == "incomplete_body"
        assert "stopped after 12 of the 100 bytes" in answer["message"]
        assert seconds < READ_SECONDS + 5
    assert Event.objects.get(connector=connector).raw_body == '{"name": "As'
