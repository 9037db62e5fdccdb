import ipaddress
import ssl
import subprocess
import threading
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from picky import outbound
from tests.raw_servers import RawServer


@pytest.fixture
def allow_loopback(settings):
    settings.PICKY_OUTBOUND_ALLOWLIST = ["127.0.0.1"]


def local_url(httpserver, path):
    return httpserver.url_for(path).replace("localhost", "127.0.0.1")


@pytest.fixture
def release_slow_handlers():
    """An event slow handlers wait on; set at teardown so the server thread is freed."""
    event = threading.Event()
    yield event
    event.set()


# The SSRF guard ----------------------------------------------------------------


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "loopback"),
        ("127.9.9.9", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.10", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "non-public"),
        ("0.0.0.0", "private"),
        ("224.0.0.1", "reserved"),
        ("2002:a00:1::1", "embedding a non-public IPv4"),
    ],
)
def test_non_public_addresses_are_refused(address, reason):
    assert reason in outbound.refusal_reason(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2001:4860:4860::8888"])
def test_public_addresses_pass(address):
    assert outbound.refusal_reason(ipaddress.ip_address(address)) is None


def test_loopback_is_refused_unless_allowed(db, settings, httpserver):
    settings.PICKY_OUTBOUND_ALLOWLIST = []
    httpserver.expect_request("/x").respond_with_data("secret")
    with pytest.raises(outbound.DestinationRefused) as refused:
        outbound.send("GET", local_url(httpserver, "/x"))
    assert "127.0.0.1: a loopback address" in refused.value.message
    assert "PICKY_OUTBOUND_ALLOWLIST" in refused.value.message
    assert httpserver.log == []


def test_host_names_are_checked_after_resolution(db, settings, httpserver):
    settings.PICKY_OUTBOUND_ALLOWLIST = []
    httpserver.expect_request("/x").respond_with_data("secret")
    with pytest.raises(outbound.DestinationRefused, match=r"localhost \(127.0.0.1\)"):
        outbound.send("GET", httpserver.url_for("/x"))
    assert httpserver.log == []


def test_metadata_address_is_refused_before_connecting(db, settings):
    settings.PICKY_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    started = time.monotonic()
    with pytest.raises(outbound.DestinationRefused, match="cloud metadata"):
        outbound.send("GET", "http://169.254.169.254/latest/meta-data/", timeout=5)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("entry", ["127.0.0.1", "127.0.0.0/8", "localhost", "LOCALHOST."])
def test_allowlist_takes_addresses_ranges_and_host_names(db, settings, httpserver, entry):
    settings.PICKY_OUTBOUND_ALLOWLIST = [entry]
    httpserver.expect_request("/x").respond_with_data("hello")
    response = outbound.send("GET", httpserver.url_for("/x"))
    assert (response.status, response.text) == (200, "hello")


def test_host_name_on_the_allowlist_does_not_allow_other_hosts(db, settings, httpserver):
    settings.PICKY_OUTBOUND_ALLOWLIST = ["localhost"]
    httpserver.expect_request("/x").respond_with_data("hello")
    with pytest.raises(outbound.DestinationRefused):
        outbound.send("GET", local_url(httpserver, "/x"))


def test_redirect_to_a_private_address_is_refused(db, allow_loopback, httpserver):
    httpserver.expect_request("/start").respond_with_data(
        "", status=302, headers={"Location": "http://10.0.0.7/admin"}
    )
    with pytest.raises(outbound.DestinationRefused, match="10.0.0.7: a private address"):
        outbound.send("GET", local_url(httpserver, "/start"))
    assert len(httpserver.log) == 1


def test_every_redirect_hop_is_checked(db, settings, httpserver):
    # The first hop is allowed by its host name; the redirect names the address itself.
    settings.PICKY_OUTBOUND_ALLOWLIST = ["localhost"]
    httpserver.expect_request("/start").respond_with_data(
        "", status=307, headers={"Location": local_url(httpserver, "/next")}
    )
    httpserver.expect_request("/next").respond_with_data("reached")
    with pytest.raises(outbound.DestinationRefused, match="127.0.0.1: a loopback address"):
        outbound.send("POST", httpserver.url_for("/start"))
    assert [entry[0].path for entry in httpserver.log] == ["/start"]


def test_allowed_redirects_are_followed(db, allow_loopback, httpserver):
    httpserver.expect_request("/start").respond_with_data(
        "", status=302, headers={"Location": local_url(httpserver, "/end")}
    )
    httpserver.expect_request("/end").respond_with_json({"done": True})
    response = outbound.send("GET", local_url(httpserver, "/start"))
    assert response.json() == {"done": True}
    assert response.redirects == [local_url(httpserver, "/start")]


def test_redirect_limit(db, allow_loopback, settings, httpserver):
    settings.PICKY_OUTBOUND_MAX_REDIRECTS = 3
    httpserver.expect_request("/loop").respond_with_data(
        "", status=302, headers={"Location": local_url(httpserver, "/loop")}
    )
    with pytest.raises(outbound.TooManyRedirects, match="More than 3 redirects"):
        outbound.send("GET", local_url(httpserver, "/loop"))
    assert len(httpserver.log) == 4


@pytest.fixture
def other_origin():
    """A second local server: another origin (another port) than `httpserver`."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


def test_headers_do_not_follow_a_redirect_to_another_origin(
    db, allow_loopback, httpserver, other_origin
):
    httpserver.expect_request("/start").respond_with_data(
        "", status=302, headers={"Location": other_origin.url_for("/end")}
    )
    other_origin.expect_request("/end").respond_with_data("reached")
    headers = {"X-Api-Key": "k-secret-1", "Authorization": "Bearer t-secret-2", "Accept": "a/b"}
    response = outbound.send("GET", local_url(httpserver, "/start"), headers=headers)
    assert response.text == "reached"
    (first, _), (redirected, _) = httpserver.log[0], other_origin.log[0]
    assert first.headers["X-Api-Key"] == "k-secret-1"
    assert "X-Api-Key" not in redirected.headers
    assert "Authorization" not in redirected.headers
    assert "Accept" not in redirected.headers
    assert redirected.headers["User-Agent"] == outbound.USER_AGENT


def test_headers_follow_a_redirect_within_the_origin(db, allow_loopback, httpserver):
    httpserver.expect_request("/start").respond_with_data(
        "", status=307, headers={"Location": "/end"}
    )
    httpserver.expect_request("/end").respond_with_data("reached")
    headers = {"X-Api-Key": "k-secret-1", "Authorization": "Bearer t-secret-2"}
    outbound.send("POST", local_url(httpserver, "/start"), headers=headers, json_body={"a": 1})
    redirected = httpserver.log[1][0]
    assert redirected.path == "/end"
    assert redirected.headers["X-Api-Key"] == "k-secret-1"
    assert redirected.headers["Authorization"] == "Bearer t-secret-2"
    assert redirected.get_json() == {"a": 1}


def test_headers_follow_a_redirect_to_another_origin_when_asked(
    db, allow_loopback, httpserver, other_origin
):
    httpserver.expect_request("/start").respond_with_data(
        "", status=307, headers={"Location": other_origin.url_for("/end")}
    )
    other_origin.expect_request("/end").respond_with_data("reached")
    outbound.send(
        "POST",
        local_url(httpserver, "/start"),
        headers={"X-Api-Key": "k-secret-1", "Authorization": "Bearer t-secret-2"},
        json_body={"a": 1},
        forward_headers_on_redirect=True,
    )
    redirected = other_origin.log[0][0]
    assert redirected.headers["X-Api-Key"] == "k-secret-1"
    assert redirected.headers["Content-Type"] == "application/json"
    # Authorization never leaves its host (requests' own rule).
    assert "Authorization" not in redirected.headers


def test_environment_proxies_are_ignored(db, allow_loopback, httpserver, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("http_proxy", "http://10.9.9.9:3128")
    httpserver.expect_request("/x").respond_with_data("direct")
    assert outbound.send("GET", local_url(httpserver, "/x")).text == "direct"


# Caps ----------------------------------------------------------------------------


def test_slow_server_times_out(db, allow_loopback, httpserver, release_slow_handlers):
    def slow(request):
        release_slow_handlers.wait(10)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    started = time.monotonic()
    with pytest.raises(outbound.OutboundTimeout, match="No answer within 0.5 seconds") as err:
        outbound.send("GET", local_url(httpserver, "/slow"), timeout=0.5)
    assert err.value.retryable
    assert time.monotonic() - started < 3


def test_timeout_is_capped(db, allow_loopback, settings, httpserver, release_slow_handlers):
    settings.PICKY_OUTBOUND_TIMEOUT_CAP_SECONDS = 0.5

    def slow(request):
        release_slow_handlers.wait(10)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    started = time.monotonic()
    with pytest.raises(outbound.OutboundTimeout):
        outbound.send("GET", local_url(httpserver, "/slow"), timeout=600)
    assert time.monotonic() - started < 3


def test_a_server_dripping_its_headers_cannot_stretch_the_deadline(db, allow_loopback):
    # One byte every 0.2 s: each read is quick, the whole answer would take 20 s.
    with RawServer(drip_seconds=0.2) as server:
        started = time.monotonic()
        with pytest.raises(outbound.OutboundTimeout, match="No answer within 1 seconds") as err:
            outbound.send("GET", server.url("/drip"), timeout=1)
        taken = time.monotonic() - started
    assert taken < 2.5, f"the request took {taken:.1f} s with a deadline of 1 s"
    assert "reading the whole answer included" in err.value.message
    assert err.value.retryable


def test_a_server_dripping_its_body_cannot_stretch_the_deadline(db, allow_loopback):
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100
    with RawServer(answer=answer, drip_seconds=0.2, drip_from=answer.index(b"x")) as server:
        started = time.monotonic()
        with pytest.raises(outbound.OutboundTimeout, match="No answer within 1 seconds"):
            outbound.send("GET", server.url("/drip"), timeout=1)
        taken = time.monotonic() - started
    assert taken < 2.5, f"the request took {taken:.1f} s with a deadline of 1 s"


def test_a_tls_server_dripping_its_answer_cannot_stretch_the_deadline(allow_loopback, tmp_path):
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True,
    )  # fmt: skip
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certificate, key)
    with RawServer(drip_seconds=0.2, tls=tls) as server:
        # The guarded connection as send() makes it, trusting the test's certificate.
        connection = outbound.GuardedHTTPSConnection(
            "127.0.0.1", server.port, timeout=1, cert_reqs="CERT_REQUIRED", ca_certs=certificate
        )
        token = outbound.REQUEST_DEADLINE.set(time.monotonic() + 1)
        started = time.monotonic()
        try:
            connection.request("GET", "/drip")
            with pytest.raises(TimeoutError):
                connection.getresponse()
        finally:
            outbound.REQUEST_DEADLINE.reset(token)
            connection.close()
        taken = time.monotonic() - started
    assert server.requests, "the TLS handshake did not complete"
    assert taken < 2.5, f"the request took {taken:.1f} s with a deadline of 1 s"


def test_response_size_is_capped_by_content_length(db, allow_loopback, httpserver):
    httpserver.expect_request("/big").respond_with_data("x" * 5000)
    with pytest.raises(outbound.ResponseTooLarge, match="5000 bytes, more than the 1000"):
        outbound.send("GET", local_url(httpserver, "/big"), max_bytes=1000)


def test_response_size_is_capped_while_streaming(db, allow_loopback, settings, httpserver):
    settings.PICKY_OUTBOUND_MAX_RESPONSE_BYTES = 1000
    # A generator body is sent chunked, without Content-Length.
    httpserver.expect_request("/big").respond_with_response(
        Response((b"y" * 400 for _ in range(10)), content_type="text/plain")
    )
    with pytest.raises(outbound.ResponseTooLarge, match="larger than the 1000 bytes"):
        outbound.send("GET", local_url(httpserver, "/big"))


def test_chunked_response_within_the_cap_is_read_whole(db, allow_loopback, httpserver):
    httpserver.expect_request("/chunks").respond_with_response(
        Response((b"ab" for _ in range(3)), content_type="text/plain; charset=utf-8")
    )
    response = outbound.send("GET", local_url(httpserver, "/chunks"))
    assert response.text == "ababab"


# Errors ----------------------------------------------------------------------------


def test_connection_refused_is_retryable(db, allow_loopback):
    with pytest.raises(outbound.ConnectionFailed, match="Connection refused") as err:
        outbound.send("GET", "http://127.0.0.1:1/")
    assert err.value.retryable


def test_unknown_host(db):
    with pytest.raises(outbound.ConnectionFailed, match="Could not resolve host"):
        outbound.send("GET", "http://no-such-host.invalid/")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "http://", ""])
def test_only_http_urls(db, url):
    with pytest.raises(outbound.InvalidRequest):
        outbound.send("GET", url)


def test_invalid_header_value(db, allow_loopback, httpserver):
    with pytest.raises(outbound.InvalidRequest, match="Invalid header"):
        outbound.send("GET", local_url(httpserver, "/x"), headers={"X-A": "a\r\nInjected: 1"})


def test_non_2xx_is_a_response_not_an_error(db, allow_loopback, httpserver):
    httpserver.expect_request("/missing").respond_with_json({"error": "nope"}, status=404)
    response = outbound.send("GET", local_url(httpserver, "/missing"))
    assert (response.status, response.ok, response.json()) == (404, False, {"error": "nope"})


# Rate limit ------------------------------------------------------------------------


def test_project_rate_limit_stops_requests_before_sending(project, allow_loopback, httpserver):
    project.http_rate_limit_per_minute = 2
    project.save()
    httpserver.expect_request("/x").respond_with_data("ok")
    url = local_url(httpserver, "/x")
    outbound.send("GET", url, project=project)
    outbound.send("GET", url, project=project)
    with pytest.raises(outbound.RateLimitExceeded, match="Rate Limit Exceeded"):
        outbound.send("GET", url, project=project)
    assert len(httpserver.log) == 2


def test_error_messages_leave_out_query_strings_and_credentials(db, allow_loopback):
    with pytest.raises(outbound.ConnectionFailed) as failed:
        outbound.send("GET", "http://user:pw-9@127.0.0.1:1/hook?api_key=sk-live-1")
    assert failed.value.message.startswith("Could not connect to http://127.0.0.1:1/hook?…")
    assert "sk-live-1" not in failed.value.message and "pw-9" not in failed.value.message
