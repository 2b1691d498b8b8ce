"""Just enough HTTP/1.1 over raw sockets for attacks that hold thousands of connections (no thread or pool each)."""

import json
import socket
import time
from dataclasses import dataclass, field


@dataclass
class Answer:
    """A response's status, headers and, for an error, its code; status 0 if none came in time, -1 if no connection."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    code: str | None = None

    @property
    def label(self) -> str:
        """'200', '429 rate_limited', 'no answer': how the attack tallies its connections."""
        if self.status <= 0:
            return "no answer" if self.status == 0 else "no connection"
        return f"{self.status} {self.code}" if self.code else str(self.status)


def read_head(client: socket.socket, deadline: float) -> tuple[bytes, bytes]:
    """The response head (up to the blank line) and whatever of the body came with it; b'' heads on timeout."""
    received = b""
    while b"\r\n\r\n" not in received:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"", received
        client.settimeout(remaining)
        try:
            chunk = client.recv(65536)
        except (TimeoutError, OSError):
            return b"", received
        if not chunk:
            return b"", received
        received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    return head, rest


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Status and headers (lower-cased names) of a response head."""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


def read_answer(client: socket.socket, timeout: float, body: bool = True) -> Answer:
    """Read one response; an error's JSON body gives its code. A 200 event stream is left open, unread."""
    deadline = time.monotonic() + timeout
    head, rest = read_head(client, deadline)
    if not head:
        return Answer(0)
    status, headers = parse_head(head)
    if status < 400 or not body:
        return Answer(status, headers)
    length = int(headers.get("content-length", "0"))
    while len(rest) < length and time.monotonic() < deadline:
        client.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = client.recv(65536)
        except (TimeoutError, OSError):
            break
        if not chunk:
            break
        rest += chunk
    try:
        code = json.loads(rest[:length])["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    return Answer(status, headers, code)
