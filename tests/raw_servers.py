"""A misbehaving HTTP server on a raw socket, for outbound tests and drills: it drips its
answer a byte at a time or holds it until released (pytest-httpserver answers at once), and
records every request it receives."""

import socket
import threading
import time

OK_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n"
    b'Connection: close\r\n\r\n{"ok": true}'
)


class RawServer:
    """Listens on 127.0.0.1 (a free port) while used as a context manager.

    Each request is read whole and recorded in `requests` (its head, as text); then the
    server waits for `release` if `hold`, and sends `answer`: at once up to byte `drip_from`,
    then one byte every `drip_seconds`. `tls`: a server-side ssl.SSLContext to wrap every
    connection in.
    """

    def __init__(self, answer=OK_ANSWER, drip_seconds=0.0, drip_from=0, hold=False, tls=None):
        self.answer = answer
        self.drip_seconds = drip_seconds
        self.drip_from = drip_from
        self.hold = hold
        self.tls = tls
        self.requests = []
        self.release = threading.Event()
        self.closing = threading.Event()
        self.received = threading.Condition()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]

    def url(self, path="/", scheme="http"):
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def __enter__(self):
        threading.Thread(target=self.accept, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.closing.set()
        self.release.set()
        self.listener.close()

    def wait_for_requests(self, count, timeout=10):
        """Whether `count` requests arrived within `timeout` seconds."""
        with self.received:
            return self.received.wait_for(lambda: len(self.requests) >= count, timeout)

    def accept(self):
        while not self.closing.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self.serve, args=(connection,), daemon=True).start()

    def serve(self, connection):
        try:
            if self.tls is not None:
                connection = self.tls.wrap_socket(connection, server_side=True)
            head = self.read_request(connection)
            with self.received:
                self.requests.append(head)
                self.received.notify_all()
            if self.hold:
                self.release.wait()
            connection.sendall(self.answer[: self.drip_from])
            for position in range(self.drip_from, len(self.answer)):
                if self.closing.wait(self.drip_seconds):
                    return
                connection.sendall(self.answer[position : position + 1])
        except OSError:
            pass  # the client gave up: what these servers are for
        finally:
            connection.close()

    @staticmethod
    def read_request(connection):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        text = head.decode("latin-1")
        length = 0
        for line in text.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
        return text


def seconds_taken(call, *args, **kwargs):
    """(seconds `call` took, the exception it raised or None)."""
    started = time.monotonic()
    try:
        call(*args, **kwargs)
    except Exception as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None
