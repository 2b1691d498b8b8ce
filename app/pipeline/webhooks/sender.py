"""One HTTP POST to a receiver: to an address the SSRF guard checked, within hard time and size limits.

http.client with its connect() pinned to the checked address: the Host header, TLS SNI and certificate
verification all use the URL's host name, but no second DNS lookup can move the connection elsewhere.
Redirects are never followed (a 3xx is an answer like any other, and not a 2xx).
"""

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from app.pipeline.webhooks.ssrf import Target

MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "Pixline-Webhooks/1"


@dataclass(frozen=True)
class Answer:
    """What one attempt got: a status code (None when no answer came), an error, the time taken."""

    status_code: int | None
    seconds: float
    error: str | None = None
    retry_after: str | None = None
    location: str | None = None

    @property
    def is_delivered(self) -> bool:
        """Whether the receiver took it (any 2xx)."""
        return self.status_code is not None and 200 <= self.status_code < 300


class PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to one checked address, whatever the host name resolves to now."""

    def __init__(self, host: str, port: int, address: str, connect_timeout: float, **kwargs):
        super().__init__(host, port, timeout=connect_timeout, **kwargs)
        self.address = address

    def connect(self) -> None:
        """Connect to the checked address (not to a fresh resolution of the host)."""
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class PinnedHTTPSConnection(PinnedHTTPConnection):
    """The same over TLS, verifying the certificate against the URL's host name (sent as SNI too)."""

    default_port = 443

    def __init__(self, host: str, port: int, address: str, connect_timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, address, connect_timeout)
        self.context = context

    def connect(self) -> None:
        """Connect to the checked address, then speak TLS to it as the host name."""
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)


def post(
    target: Target,
    body: bytes,
    headers: dict[str, str],
    connect_timeout: float,
    total_timeout: float,
    context: ssl.SSLContext | None = None,
) -> Answer:
    """POST body to the target's first reachable address; never raises for the receiver's failings."""
    started = time.monotonic()
    errors = []
    for address in target.addresses:
        remaining = total_timeout - (time.monotonic() - started)
        if remaining <= 0:
            break
        connection = _connection(target, address, min(connect_timeout, remaining), context)
        try:
            connection.connect()
        except OSError as error:
            errors.append(f"{address}: {_describe(error)}")
            connection.close()
            continue
        return _exchange(connection, target, body, headers, started, total_timeout)
    return Answer(None, time.monotonic() - started, "connect failed: " + ("; ".join(errors) or "timed out"))


def _connection(target: Target, address: str, timeout: float, context: ssl.SSLContext | None):
    """A pinned connection for the target's scheme."""
    if target.scheme == "https":
        return PinnedHTTPSConnection(
            target.host, target.port, address, timeout, context or ssl.create_default_context()
        )
    return PinnedHTTPConnection(target.host, target.port, address, timeout)


def _exchange(connection, target: Target, body: bytes, headers: dict, started: float, total: float) -> Answer:
    """Send the request and read at most MAX_ANSWER_BYTES of the answer, all within the total deadline."""
    remaining = max(0.01, total - (time.monotonic() - started))
    connection.sock.settimeout(remaining)
    # A receiver trickling bytes could keep every read under the socket timeout: the watchdog ends it on time.
    watchdog = threading.Timer(remaining, _abort, args=(connection,))
    watchdog.daemon = True
    watchdog.start()
    try:
        request_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
        connection.request("POST", target.path, body=body, headers=request_headers)
        response = connection.getresponse()
        response.read(MAX_ANSWER_BYTES)
        elapsed = time.monotonic() - started
        return Answer(response.status, elapsed, None, response.getheader("Retry-After"), response.getheader("Location"))
    except (OSError, http.client.HTTPException) as error:
        elapsed = time.monotonic() - started
        reason = "timed out" if elapsed >= total or isinstance(error, TimeoutError) else _describe(error)
        return Answer(None, elapsed, reason)
    finally:
        watchdog.cancel()
        connection.close()


def _abort(connection) -> None:
    """Shut the socket, so a read blocked past the deadline returns at once."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _describe(error: BaseException) -> str:
    """A short, stable description of a network error for the delivery log."""
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate refused: {error.verify_message}"
    return f"{type(error).__name__}: {error}"[:300]
