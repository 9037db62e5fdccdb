"""The one outbound HTTP client of Picky (HTTP Request, ChatGPT, channel adapters, webhooks).

Every request goes through `send`, which enforces:
- a timeout capped at PICKY_OUTBOUND_TIMEOUT_CAP_SECONDS, as a deadline for the whole request:
  connecting, the TLS handshake, sending, the answer's headers and its body together (every
  socket operation may take only the time left, so a server dripping its answer a byte at a
  time cannot stretch it),
- a response size cap (PICKY_OUTBOUND_MAX_RESPONSE_BYTES) and a redirect limit
  (PICKY_OUTBOUND_MAX_REDIRECTS),
- an SSRF guard: the host name is resolved once, every address is checked, and the socket
  connects to a checked address (so a second DNS answer cannot swap it). Loopback, private,
  link-local, cloud-metadata and other non-public addresses are refused unless
  PICKY_OUTBOUND_ALLOWLIST names the host, the address or a CIDR range holding it. The check
  runs in the connection itself, so every redirect hop is checked too,
- the caller's headers on same-origin redirects only (scheme, host and port equal), so a key
  meant for one API never reaches another, unless the caller asks to forward them,
- optionally the project's rate limit of outbound requests per minute.
Environment proxies are ignored: a proxy would connect to the target for us, unchecked.
"""

import contextvars
import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util.connection import _set_socket_options
from urllib3.util.ssl_ import create_urllib3_context, resolve_cert_reqs, resolve_ssl_version

from . import ratelimit

USER_AGENT = "Picky/1.0 (webhook automation)"
READ_CHUNK = 64 * 1024

# Cloud metadata services, named in refusals because they are the usual SSRF target.
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, DigitalOcean, ...
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
}


class OutboundError(Exception):
    """A request could not be completed. `retryable`: trying again later may succeed."""

    retryable = False

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class DestinationRefused(OutboundError):
    """The SSRF guard refused the destination."""


class InvalidRequest(OutboundError):
    """The request itself is malformed (URL, header)."""


class InvalidURL(InvalidRequest):
    """The URL is not an absolute http(s) URL with a host."""


class RateLimitExceeded(OutboundError):
    pass


class OutboundTimeout(OutboundError):
    retryable = True


class ConnectionFailed(OutboundError):
    retryable = True


class ResponseTooLarge(OutboundError):
    pass


class TooManyRedirects(OutboundError):
    pass


@dataclass
class OutboundResponse:
    status: int
    headers: dict
    content: bytes
    url: str
    duration_ms: float
    encoding: str | None = None
    redirects: list = field(default_factory=list)

    @property
    def ok(self):
        return 200 <= self.status < 300

    @property
    def text(self):
        try:
            return self.content.decode(self.encoding or "utf-8", errors="replace")
        except LookupError:  # an unknown charset name
            return self.content.decode("utf-8", errors="replace")

    @property
    def content_type(self):
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    def json(self):
        """The body parsed as JSON; raises ValueError when it is not JSON."""
        if not self.content.strip():
            raise ValueError("The body is empty.")
        return json.loads(self.text)


# The SSRF guard ---------------------------------------------------------------


def parse_allowlist(entries):
    """(host names, networks) of an allow-list of names, addresses and CIDR ranges."""
    hosts, networks = set(), []
    for entry in entries:
        entry = entry.strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            hosts.add(entry.rstrip("."))
    return hosts, networks


def refusal_reason(address):
    """Why an address is not reachable without the allow-list, or None when it is public."""
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "a non-public address"
    if address.version == 6:
        embedded = [address.sixtofour, address.teredo[1] if address.teredo else None]
        if any(inner is not None and refusal_reason(inner) for inner in embedded):
            return "an IPv6 address embedding a non-public IPv4 address"
    return None


def allowed_addresses(host, port):
    """The resolved (family, sockaddr) pairs of host:port the guard lets through.

    Raises DestinationRefused when none is allowed, ConnectionFailed when the name does not
    resolve.
    """
    host = host.strip("[]").rstrip(".").lower()
    allowed_hosts, allowed_networks = parse_allowlist(settings.PICKY_OUTBOUND_ALLOWLIST)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConnectionFailed(f"Could not resolve host {host!r}: {exc}") from exc
    allowed, refused = [], []
    for family, _, _, _, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        reason = refusal_reason(address)
        if (
            reason is None
            or host in allowed_hosts
            or any(address in network for network in allowed_networks)
        ):
            if (family, sockaddr) not in allowed:
                allowed.append((family, sockaddr))
        else:
            refused.append((address, reason))
    if not allowed:
        address, reason = refused[0]
        shown = host if host == str(address) else f"{host} ({address})"
        raise DestinationRefused(
            f"Refused to connect to {shown}: {reason}. "
            "Add it to PICKY_OUTBOUND_ALLOWLIST to allow it."
        )
    return allowed


# The request's deadline --------------------------------------------------------

# When the request being sent must be over (a time.monotonic() value); its sockets read it.
REQUEST_DEADLINE = contextvars.ContextVar("outbound_request_deadline", default=None)


def time_left():
    """Seconds left until the deadline of the request being sent (None: no deadline).
    Raises TimeoutError once it has passed."""
    deadline = REQUEST_DEADLINE.get()
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("The request's deadline has passed.")
    return left


class DeadlineSocketMixin:
    """A socket whose every read and write may take only the time left until the request's
    deadline: a socket timeout alone applies to each read afresh, and a server sending a
    byte every second would never trip it."""

    def keep_to_deadline(self):
        left = time_left()
        if left is not None:
            self.settimeout(left)

    def recv(self, *args, **kwargs):
        self.keep_to_deadline()
        return super().recv(*args, **kwargs)

    def recv_into(self, *args, **kwargs):
        self.keep_to_deadline()
        return super().recv_into(*args, **kwargs)

    def send(self, *args, **kwargs):
        self.keep_to_deadline()
        return super().send(*args, **kwargs)

    def sendall(self, *args, **kwargs):
        self.keep_to_deadline()
        return super().sendall(*args, **kwargs)


class DeadlineSocket(DeadlineSocketMixin, socket.socket):
    pass


class DeadlineSSLSocket(DeadlineSocketMixin, ssl.SSLSocket):
    pass


class GuardedConnectionMixin:
    """Resolve, check and connect to a checked address, never to a name resolved again;
    the socket keeps to the request's deadline."""

    def _new_conn(self):
        last_error = None
        for family, sockaddr in allowed_addresses(self._dns_host, self.port):
            sock = DeadlineSocket(family, socket.SOCK_STREAM)
            try:
                _set_socket_options(sock, self.socket_options)
                sock.settimeout(time_left())
                sock.connect(sockaddr)
                # The TLS handshake, if any, reads with this timeout: no later than the deadline.
                sock.settimeout(time_left())
                return sock
            except TimeoutError as exc:
                sock.close()
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
            except OSError as exc:
                sock.close()
                last_error = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {last_error}")


class GuardedHTTPConnection(GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(GuardedConnectionMixin, HTTPSConnection):
    def connect(self):
        if self.ssl_context is None:
            # The context urllib3 would make, but its TLS sockets keep to the deadline.
            self.ssl_context = create_urllib3_context(
                ssl_version=resolve_ssl_version(self.ssl_version),
                ssl_minimum_version=self.ssl_minimum_version,
                ssl_maximum_version=self.ssl_maximum_version,
                cert_reqs=resolve_cert_reqs(self.cert_reqs),
            )
            self.ssl_context.sslsocket_class = DeadlineSSLSocket
        super().connect()


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        raise InvalidRequest("Outbound requests through a proxy are not supported.")


# The body's own headers: a 307/308 redirect sends the body again, and they describe it.
BODY_HEADERS = {"content-type", "content-length", "transfer-encoding"}


class GuardedSession(requests.Session):
    """A session that keeps the caller's headers (`sent_headers`) on same-origin redirects
    only, unless `forward_headers_on_redirect`; Authorization never leaves its origin
    (requests itself keeps it on an http to https upgrade of the same host)."""

    sent_headers = ()
    forward_headers_on_redirect = False

    def rebuild_auth(self, prepared_request, response):
        if same_origin(response.request.url, prepared_request.url):
            return
        if self.forward_headers_on_redirect:
            super().rebuild_auth(prepared_request, response)
            return
        prepared_request.headers.pop("Authorization", None)
        for name in self.sent_headers:
            if name.lower() not in BODY_HEADERS:
                prepared_request.headers.pop(name, None)


DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url):
    """(scheme, host, port) of a URL, the port given or the scheme's default."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").rstrip("."), parts.port or DEFAULT_PORTS.get(scheme)


def same_origin(url, other):
    return origin(url) == origin(other)


def new_session():
    session = GuardedSession()
    session.trust_env = False  # no proxies or netrc from the environment
    session.max_redirects = settings.PICKY_OUTBOUND_MAX_REDIRECTS
    adapter = GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


# Sending ----------------------------------------------------------------------


def capped_timeout(timeout):
    cap = settings.PICKY_OUTBOUND_TIMEOUT_CAP_SECONDS
    if timeout is None or timeout <= 0:
        return cap
    return min(float(timeout), cap)


def check_url(url):
    """Refuse (InvalidURL) anything but an absolute http(s) URL with a host."""
    if not url:
        raise InvalidURL("The URL is empty.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number, or out of range, raises)
    except ValueError as exc:
        raise InvalidURL(f"The URL {shown_url(url)!r} is not a valid URL: {exc}.") from exc
    if not parts.scheme:
        raise InvalidURL(f"The URL {shown_url(url)!r} is not an absolute http(s) URL.")
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidURL(f"The URL {shown_url(url)!r} is not an http(s) URL.")
    if not parts.hostname:
        raise InvalidURL(f"The URL {shown_url(url)!r} has no host.")


def shown_url(url):
    """The URL for messages: without credentials, and its query (which may hold keys) elided."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        # Not parsable: what could be a secret (a query, credentials) is cut by hand.
        scheme, found, rest = url.partition("?")[0].partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}" if found else scheme
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    shown = urlunsplit((parts.scheme, f"{host}{port}", parts.path, "", ""))
    return shown + ("?…" if parts.query else "")


def send(
    method,
    url,
    *,
    headers=None,
    params=None,
    data=None,
    json_body=None,
    timeout=None,
    max_bytes=None,
    project=None,
    forward_headers_on_redirect=False,
):
    """Send one request and read its whole body; returns an OutboundResponse.

    Raises an OutboundError subclass for everything that is not an HTTP response (a non-2xx
    response is returned, not raised). With `project`, the request counts against the
    project's outbound rate limit and is not sent when over it. `timeout` (capped) is the
    deadline of the whole request. `headers` go to redirects of the same origin only, unless
    `forward_headers_on_redirect`.
    """
    url = (url or "").strip()
    check_url(url)
    timeout = capped_timeout(timeout)
    max_bytes = max_bytes or settings.PICKY_OUTBOUND_MAX_RESPONSE_BYTES
    if project is not None and not ratelimit.allow_http_request(project):
        raise RateLimitExceeded("Rate Limit Exceeded")
    started = time.monotonic()
    deadline = started + timeout
    shown = shown_url(url)
    session = new_session()
    session.sent_headers = tuple(headers or ())
    session.forward_headers_on_redirect = forward_headers_on_redirect
    deadline_token = REQUEST_DEADLINE.set(deadline)
    try:
        response = session.request(
            method.upper(),
            url,
            headers=headers,
            params=params,
            data=data,
            json=json_body,
            timeout=(timeout, timeout),
            stream=True,
            allow_redirects=True,
        )
        with response:
            content = read_body(response, max_bytes, timeout, shown)
            return OutboundResponse(
                status=response.status_code,
                headers=dict(response.headers),
                content=content,
                url=response.url,
                duration_ms=round((time.monotonic() - started) * 1000, 1),
                encoding=charset_of(response.headers.get("Content-Type", "")),
                redirects=[r.url for r in response.history],
            )
    except OutboundError:
        raise
    except requests.exceptions.RequestException as exc:
        raise request_error(exc, shown, timeout, deadline) from exc
    finally:
        REQUEST_DEADLINE.reset(deadline_token)
        session.close()


def request_error(exc, shown, timeout, deadline):
    """The OutboundError of a requests exception. Past the deadline, whatever broke (a read,
    a write, the handshake) broke because time ran out."""
    if isinstance(exc, requests.exceptions.Timeout) or time.monotonic() >= deadline:
        return no_answer(timeout, shown)
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return TooManyRedirects(
            f"More than {settings.PICKY_OUTBOUND_MAX_REDIRECTS} redirects from {shown}."
        )
    if isinstance(exc, requests.exceptions.InvalidHeader):
        return InvalidRequest(f"Invalid header: {exc}")
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return InvalidURL(f"The URL {shown!r} is not a valid URL.")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return ConnectionFailed(f"Could not connect to {shown}: {describe(exc)}")
    return ConnectionFailed(f"Request to {shown} failed: {describe(exc)}")


def no_answer(timeout, shown):
    return OutboundTimeout(
        f"No answer within {timeout:g} seconds from {shown} (connecting, sending the request "
        "and reading the whole answer included)."
    )


def read_body(response, max_bytes, timeout, shown):
    """The whole body, read within the request's deadline (REQUEST_DEADLINE)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(
            f"The response is {int(declared)} bytes, more than the {max_bytes} allowed."
        )
    chunks, size = [], 0
    while True:
        try:
            chunk = response.raw.read1(READ_CHUNK, decode_content=True)
        except ReadTimeoutError as exc:
            raise no_answer(timeout, shown) from exc
        except (ProtocolError, DecodeError) as exc:
            if time.monotonic() >= REQUEST_DEADLINE.get():
                raise no_answer(timeout, shown) from exc
            raise ConnectionFailed(f"The response broke off: {describe(exc)}") from exc
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLarge(f"The response is larger than the {max_bytes} bytes allowed.")
        chunks.append(chunk)
    return b"".join(chunks)


def charset_of(content_type):
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip('"')
    return None


def describe(exc):
    """The underlying reason of a requests/urllib3 error, short enough to show a user."""
    reason = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", None) or reason
    return getattr(reason, "_message", None) or str(reason)
