"""Picky's gunicorn worker (gunicorn.conf.py): gunicorn's threaded worker, except that a
connection gets a thread only once its whole request has arrived.

gthread hands a connection to a thread as soon as its first bytes arrive, and the
thread reads the headers and the body with blocking reads and no deadline: a client
sending a byte every few seconds holds a thread for as long as it likes, and a few
such clients held every thread (three delayed a normal webhook by 32 s). Here the
worker's poller, which waits on every connection at once, collects each request's
bytes; the threads, each of which may keep a database connection, only serve requests
that are in. A request not in within PICKY_REQUEST_READ_SECONDS is cut: without its
headers the client gets a 408 and the connection closes; with them the application
answers it (its body reads short, with what arrived: a clear 400). Reads a thread
still makes past what arrived (a body over the limit) also end at that deadline, unless
the application gives the request longer (picky/upload_deadline.py: a signed-in staff
member's upload), through `serving_source`, the RequestSource of the request a thread serves.
Closing a connection, which gthread lingers over on its poller's thread, waits on
the poller too.
"""

import selectors
import socket
import time
from contextlib import suppress
from functools import partial

from django.conf import settings
from gunicorn.errors import ConfigError
from gunicorn.workers.gthread import ThreadWorker

from picky.upload_deadline import serving_source

# A header block this long without its end goes to gunicorn's parser, which refuses it
# (limit_request_line, limit_request_fields, limit_request_field_size).
MAX_HEADER_BYTES = 64 * 1024
# A chunk-size line or trailer section this long is malformed; the parser says so.
MAX_CHUNK_LINE_BYTES = 8 * 1024
HEX_DIGITS = b"0123456789abcdefABCDEF"
RECV_BYTES = 256 * 1024
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# How long, and how many bytes, a closing connection is read until the client closes
# (gunicorn.util.close_graceful's figures).
LINGER_SECONDS = 2.0
LINGER_MAX_BYTES = 64 * 1024


def timed_out_response(seconds):
    message = f"The request did not arrive within {seconds:g} s.\n".encode()
    return (
        b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(message), message)
    )


def receive(sock):
    """What a non-blocking socket has: its bytes, b"" once the client closed it (or it
    failed), None when nothing has arrived yet."""
    try:
        return sock.recv(RECV_BYTES)
    except BlockingIOError:
        return None
    except OSError:
        return b""


class IncomingRequest:
    """A request's bytes as they arrive, and whether it is all in (`ready`).

    Only the framing is read here (where the header block ends, Content-Length,
    Transfer-Encoding: chunked, Expect: 100-continue); gunicorn's parser still parses
    the request. A request that is malformed or over a limit is ready at once, so that
    the parser or the application refuses it without waiting for the rest.
    """

    def __init__(self, body_limit, data=b""):
        self.body_limit = body_limit
        # Chunk framing can double a body's size; more than that is not waited for.
        self.max_bytes = MAX_HEADER_BYTES + 2 * body_limit
        self.data = bytearray()
        self.searched = 0  # where the search for the header block's end resumes
        self.body_start = None  # set once the header block is in
        self.length = None
        self.chunked = False
        self.next_chunk = None  # chunked: where the next chunk-size line starts
        self.chunked_bytes = 0
        self.expects_continue = False
        self.continue_sent = False
        self.ready = False
        self.add(data)

    @property
    def awaits_continue(self):
        """Whether the client waits for "100 Continue" before it sends its body."""
        return self.expects_continue and self.body_start is not None and not self.continue_sent

    def add(self, data):
        self.data += data
        if not self.ready:
            self.ready = len(self.data) > self.max_bytes or self.all_in()

    def all_in(self):
        if self.body_start is None:
            end = self.data.find(b"\r\n\r\n", self.searched)
            if end < 0:
                self.searched = max(0, len(self.data) - 3)
                return len(self.data) > MAX_HEADER_BYTES
            if not self.read_headers(end):
                return True
        if self.chunked:
            return self.chunks_in()
        if self.length is None:
            return True
        # Over the limit, the application refuses it by its Content-Length, unread.
        return self.length > self.body_limit or len(self.data) - self.body_start >= self.length

    def read_headers(self, end):
        """Read the framing headers; False when they are malformed (gunicorn refuses
        a repeated Content-Length, Transfer-Encoding with Content-Length, and a
        Transfer-Encoding that does not end with chunked)."""
        self.body_start = end + 4
        request_line, *lines = bytes(self.data[:end]).split(b"\r\n")
        transfer_encoding = None
        for line in lines:
            name, _, value = line.partition(b":")
            name, value = name.lower(), value.strip().lower()
            if name == b"content-length":
                if self.length is not None or not value.isdigit():
                    return False
                self.length = int(value)
            elif name == b"transfer-encoding":
                if transfer_encoding is not None:
                    return False
                transfer_encoding = value
            elif name == b"expect":
                self.expects_continue = value == b"100-continue" and request_line.endswith(
                    b"HTTP/1.1"
                )
        if transfer_encoding is not None:
            if self.length is not None or not transfer_encoding.endswith(b"chunked"):
                return False
            self.chunked = True
            self.next_chunk = self.body_start
        return True

    def chunks_in(self):
        """Walk the chunks that are in; True at the end of the last one (its trailer
        section included), or once the body is over the limit or malformed."""
        while True:
            line_end = self.data.find(b"\r\n", self.next_chunk)
            if line_end < 0:
                return len(self.data) - self.next_chunk > MAX_CHUNK_LINE_BYTES
            size = bytes(self.data[self.next_chunk : line_end]).split(b";", 1)[0].rstrip(b" \t")
            if not size or size.strip(HEX_DIGITS):
                return True
            size = int(size, 16)
            if size == 0:
                # The last chunk: trailer fields, if any, then an empty line.
                if self.data.find(b"\r\n\r\n", line_end) >= 0:
                    return True
                return len(self.data) - line_end > MAX_CHUNK_LINE_BYTES
            if self.chunked_bytes + size > self.body_limit:
                return True
            chunk_end = line_end + 2 + size + 2
            if chunk_end > len(self.data):
                return False
            self.chunked_bytes += size
            self.next_chunk = chunk_end


class RequestSource:
    """The connection as gunicorn's parser reads it in a thread: first the bytes the
    poller collected, a socket read's worth at a time as from the socket itself (the
    chunked body parser copies what it is given for every chunk), then the socket,
    until the request's deadline at most, `seconds` after its connection opened (`allow`
    gives it longer). Past it the connection reads as closed by the client (`cut` is
    set): a body then reads short, with what arrived, and the application says so."""

    def __init__(self, sock, collected, opened, seconds):
        self.sock = sock
        self.collected = collected
        self.served = 0
        self.opened = opened
        self.deadline = opened + seconds
        self.cut = False

    def allow(self, seconds):
        """Let the request arrive within `seconds` of its connection opening (if longer
        than it had); the reads still to come wait until then."""
        self.deadline = max(self.deadline, self.opened + seconds)

    @property
    def unserved(self):
        return len(self.collected) - self.served

    def take_unserved(self):
        """What was collected and not read yet (the start of a next request)."""
        unserved = self.collected[self.served :]
        self.served = len(self.collected)
        return unserved

    def recv(self, size):
        if self.served < len(self.collected):
            piece = self.collected[self.served : self.served + size]
            self.served += len(piece)
            return piece
        remaining = self.deadline - time.monotonic()
        if remaining > 0:
            self.sock.settimeout(remaining)
            try:
                return self.sock.recv(size)
            except TimeoutError:
                pass
            finally:
                self.sock.settimeout(None)
        self.cut = True
        return b""


class BufferedThreadWorker(ThreadWorker):
    """gthread whose poller collects each request before a thread serves it."""

    @classmethod
    def check_config(cls, cfg, log):
        super().check_config(cfg, log)
        if cfg.is_ssl or cfg.protocol != "http" or "h2" in cfg.http_protocols:
            raise ConfigError(
                "picky.gunicorn_worker serves plain HTTP/1.1: end TLS and HTTP/2 at the "
                "load balancer and leave gunicorn's certfile, protocol and http_protocols "
                "at their defaults."
            )

    def init_process(self):
        self.reading = {}  # connection -> (IncomingRequest, when it opened), oldest first
        self.lingering = {}  # connection -> [deadline, bytes drained], oldest first
        super().init_process()

    def run(self):
        # The application (and so Django's settings) is loaded before run().
        self.read_seconds = settings.PICKY_REQUEST_READ_SECONDS
        self.body_limit = settings.PICKY_MAX_PAYLOAD_BYTES
        super().run()

    def enqueue_req(self, conn):
        """Every way to a thread (a new connection, a kept-alive one readable again, a
        request read ahead behind the last) comes here: the request is collected first."""
        leftover = b""
        if conn.parser:
            unreader = conn.parser.unreader
            leftover = unreader.take_buffered() + unreader.sock.take_unserved()
        incoming = IncomingRequest(self.body_limit, leftover)
        opened = time.monotonic()
        if incoming.ready:
            self.hand_over(conn, incoming, opened)
            return
        conn.sock.setblocking(False)
        self.reading[conn] = (incoming, opened)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_request_bytes, conn))

    def on_request_bytes(self, conn, sock):
        incoming, opened = self.reading[conn]
        data = receive(sock)
        if data is None:
            return
        if not data:  # the client left before its request was in
            self.stop_reading(conn)
            self.nr_conns -= 1
            conn.close()
            return
        incoming.add(data)
        if incoming.ready:
            self.stop_reading(conn)
            self.hand_over(conn, incoming, opened)
        elif incoming.awaits_continue:
            incoming.continue_sent = True
            with suppress(OSError):  # the next read sees the connection gone
                sock.send(CONTINUE)

    def stop_reading(self, conn):
        del self.reading[conn]
        self.poller.unregister(conn.sock)

    def hand_over(self, conn, incoming, opened):
        """A thread serves the request from memory; what it reads past what arrived
        (the rest of a request cut at its deadline, or over the limits) waits until
        the deadline at most."""
        conn.init()
        conn.incoming = incoming
        conn.parser.unreader.sock = RequestSource(
            conn.sock, bytes(incoming.data), opened, self.read_seconds
        )
        super().enqueue_req(conn)

    def handle(self, conn):
        keepalive = super().handle(conn)
        # A request cut at its deadline left the rest unread: its connection is not reused.
        return keepalive and not conn.parser.unreader.sock.cut

    def handle_request(self, req, conn):
        if conn.incoming.continue_sent:
            # The poller said "100 Continue" already; gunicorn would say it again.
            req._expected_100_continue = False
        token = serving_source.set(conn.parser.unreader.sock)
        try:
            return super().handle_request(req, conn)
        finally:
            serving_source.reset(token)

    def finish_request(self, conn, fs):
        """A connection done with (no keep-alive) is closed with a linger: its write side
        first, then reading until the client closes, so that unread bytes do not make
        the kernel reset it before the client has the answer. gthread lingers (up to
        2 s) on the poller's thread, where a client that keeps its side open stalls
        every other connection of the worker; here the poller waits for it instead."""
        keepalive = None if fs.cancelled() or fs.exception() else fs.result()
        if keepalive is False:
            self.linger(conn)
        elif keepalive is True and conn.parser.unreader.sock.unserved:
            # The next request is in memory already, where the poller would not see it.
            self.enqueue_req(conn)
        else:
            super().finish_request(conn, fs)

    def linger(self, conn):
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
        except OSError:
            self.nr_conns -= 1
            conn.close()
            return
        self.lingering[conn] = [time.monotonic() + LINGER_SECONDS, 0]
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_linger_bytes, conn))

    def on_linger_bytes(self, conn, sock):
        data = receive(sock)
        if data is None:
            return
        self.lingering[conn][1] += len(data)
        if not data or self.lingering[conn][1] >= LINGER_MAX_BYTES:
            self.end_linger(conn)

    def end_linger(self, conn):
        del self.lingering[conn]
        self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()

    def wait_for_and_dispatch_events(self, timeout):
        # Wake up for the first request deadline too, not only once a second.
        if self.reading:
            _, opened = next(iter(self.reading.values()))
            timeout = max(0.0, min(timeout, opened + self.read_seconds - time.monotonic()))
        super().wait_for_and_dispatch_events(timeout)

    def murder_pending(self):
        super().murder_pending()
        self.cut_late_requests()
        now = time.monotonic()
        while self.lingering:
            conn, (deadline, _) = next(iter(self.lingering.items()))
            if deadline > now:
                break
            self.end_linger(conn)

    def cut_late_requests(self):
        """Requests not in by their deadline: without a header block, a 408 and the
        connection closes; with one, a thread serves what arrived."""
        now = time.monotonic()
        while self.reading:
            conn = next(iter(self.reading))
            incoming, opened = self.reading[conn]
            if opened + self.read_seconds > now:
                break
            self.stop_reading(conn)
            if incoming.body_start is not None:
                self.hand_over(conn, incoming, opened)
                continue
            self.log.info(
                "Closed a connection from %s: no request within %g s (%d bytes came)",
                conn.client[0] if isinstance(conn.client, tuple) else conn.client,
                self.read_seconds,
                len(incoming.data),
            )
            with suppress(OSError):
                conn.sock.send(timed_out_response(self.read_seconds))
            self.nr_conns -= 1
            conn.close()
