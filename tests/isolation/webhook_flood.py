"""The webhook flood: one owner points an endpoint at a receiver that never answers, then calls /test again and again.

Before issue 22 every worker took the webhooks queue before images, and each attempt held a worker for the whole
WEBHOOK_TIMEOUT: 30 calls stalled every owner's images for minutes. `make bench` reuses this class for its table.
The stack must run with WEBHOOK_ALLOW_HTTP=1 and WEBHOOK_ALLOW_PRIVATE=1 (LOOPBACK_RECEIVERS), since the receiver
is on loopback.
"""

import socket
import threading
from collections import Counter
from dataclasses import dataclass, field

from tests.isolation.conftest import create_key
from tests.support.stack import RunningStack

LOOPBACK_RECEIVERS = {"WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE": "1"}
ATTACKER_SCOPES = "images:read,images:write,webhooks:manage"


class SilentReceiver:
    """A loopback receiver that accepts every connection, reads what is sent and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hooks"
        self.connections: list[socket.socket] = []
        self._stopped = threading.Event()

    def start(self) -> "SilentReceiver":
        """Accept in a daemon thread; each connection is read from and held open."""
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._swallow, args=(connection,), daemon=True).start()

    @staticmethod
    def _swallow(connection: socket.socket) -> None:
        try:
            while connection.recv(65536):
                pass
        except OSError:
            pass

    def stop(self) -> None:
        """Close the listener and every held connection."""
        self._stopped.set()
        self.sock.close()
        for connection in self.connections:
            connection.close()


@dataclass
class WebhookFlood:
    """An attacker owner flooding /test of its endpoints (`endpoints` of them, called in turn) at a silent receiver."""

    stack: RunningStack
    calls: int = 30
    endpoints: int = 1
    owner: str = "attacker"
    answers: list[tuple[int, str | None, str | None]] = field(default_factory=list)

    def __post_init__(self):
        self.receiver = SilentReceiver().start()
        self.key = create_key(self.stack, self.owner, ATTACKER_SCOPES)
        self.endpoint_ids = [self._register() for _ in range(self.endpoints)]

    def _register(self) -> str:
        """One more endpoint at the silent receiver; its id."""
        body = {"url": self.receiver.url, "events": ["image.done"]}
        created = self.stack.request("POST", "/api/webhooks", self.key, json=body)
        assert created.status_code == 201, created.text
        return created.json()["id"]

    def run(self) -> "WebhookFlood":
        """Make the /test calls, one after another, as fast as they are answered."""
        for number in range(self.calls):
            endpoint_id = self.endpoint_ids[number % len(self.endpoint_ids)]
            answer = self.stack.request("POST", f"/api/webhooks/{endpoint_id}/test", self.key)
            error = answer.json().get("error") or {} if answer.status_code != 202 else {}
            self.answers.append((answer.status_code, error.get("code"), answer.headers.get("Retry-After")))
        return self

    def statuses(self) -> Counter:
        """How many calls got each (status, code)."""
        return Counter((status, code) for status, code, _ in self.answers)

    def refusals(self) -> list[tuple[int, str | None, str | None]]:
        """The answers that were not 202: (status, code, Retry-After)."""
        return [answer for answer in self.answers if answer[0] != 202]

    def stop(self) -> None:
        """Stop the receiver (deliveries still waiting fail and are retried by the stack as usual)."""
        self.receiver.stop()
