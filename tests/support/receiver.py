"""A real HTTP webhook receiver on loopback: answers from a script, records every request it got."""

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app.stack import free_port


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


class QuietServer(ThreadingHTTPServer):
    """A threading server that does not print the broken pipes of clients that gave up (timeouts under test)."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass


class Receiver:
    """Answers each POST with the next status of its script (then `then` forever); `hold` makes it wait first."""

    def __init__(self, statuses: Iterable[int] = (), then: int = 200, port: int | None = None):
        self.statuses, self.then = list(statuses), then
        self.port = port or free_port()
        self.received: list[Received] = []
        self.extra_headers: dict[str, str] = {}
        self.hold = threading.Event()  # set: requests wait for release before answering
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The URL to register."""
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> "Receiver":
        """Listen on the port in a daemon thread."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._take(Received(self.path, dict(self.headers.items()), body))
                if receiver.hold.is_set():
                    receiver.release.wait(60)
                self.send_response(status)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self._server = QuietServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def _take(self, request: Received) -> int:
        with self._lock:
            self.received.append(request)
            return self.statuses.pop(0) if self.statuses else self.then

    def stop(self) -> None:
        """Stop listening (requests in flight are dropped)."""
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
