"""The waiting-client flood: thousands of event streams or long-polls from one token, or one address.

A page visitor gets a page token for free (one visit without a cookie) and can hold as many requests open as it
likes unless the server counts them. Each connection is a raw socket (so a test process holds thousands), sent from
a loopback address of its own (127.0.0.2 by default: the victim's requests come from 127.0.0.1), and kept open when
the server accepts it. `make bench` reuses this class (start, then the victim's figures, then stop).
"""

import contextlib
import re
import socket
import struct
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests

from tests.isolation.raw_http import Answer, read_answer
from tests.support.images import encoded

TOKEN_TAG = re.compile(r'<meta name="pixline-page-token" content="([^"]+)"')
ATTACKER_ADDRESS = "127.0.0.2"


def page_token(url: str) -> str:
    """A fresh anonymous owner's page token: what one visit to the upload page without a cookie hands out."""
    page = requests.get(f"{url}/", timeout=30)
    found = TOKEN_TAG.search(page.text)
    assert page.status_code == 200 and found, f"the page gave no token: {page.status_code}"
    return found.group(1)


def done_image(stack, token: str) -> str:
    """The id of a small image token's owner uploaded and saw processed: something of its own to long-poll."""
    answer = stack.request("POST", "/api/images", token, files={"file": ("tiny.png", encoded(fmt="PNG"))})
    assert answer.status_code == 202, answer.text
    return stack.wait_for(answer.json()["id"], "done", key=token)["id"]


def event_stream(image_ids: str = "none") -> str:
    """The path of an event stream (an id that does not exist is followed like any other: nothing is sent)."""
    return f"/api/events?ids={image_ids}"


def long_poll(image_id: str, status: str, wait: int = 30) -> str:
    """The path of a long-poll that waits for image_id to leave status."""
    return f"/api/images/{image_id}?wait={wait}&status={status}"


class StreamFlood:
    """count waiting requests, each (token, path) of requests in turn, from source; the accepted ones kept open."""

    def __init__(self, url: str, requests_: list[tuple[str, str]], count: int = 3000,
                 source: str = ATTACKER_ADDRESS, openers: int = 64, answer_seconds: float = 30):  # fmt: skip
        parts = urlsplit(url)
        self.address = (parts.hostname, parts.port)
        self.requests, self.count, self.source = requests_, count, source
        self.openers, self.answer_seconds = openers, answer_seconds
        self.held: list[socket.socket] = []
        self.answers: list[Answer] = []

    def start(self) -> "StreamFlood":
        """Open every connection (openers at a time) and record each answer; keep the accepted ones open."""
        with ThreadPoolExecutor(self.openers) as pool:
            self.answers = list(pool.map(self._open, range(self.count)))
        return self

    def _open(self, number: int) -> Answer:
        """One waiting request: its answer; its socket is kept if the server holds it (200), else closed."""
        token, path = self.requests[number % len(self.requests)]
        try:
            client = socket.create_connection(self.address, timeout=30, source_address=(self.source, 0))
            client.sendall(f"GET {path} HTTP/1.1\r\nHost: pixline\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        except OSError:
            return Answer(-1)
        answer = read_answer(client, self.answer_seconds)
        # A long-poll the server holds answers only when it ends: no answer yet means held, like a stream's 200.
        if answer.status in (0, 200):
            self.held.append(client)
        else:
            client.close()
        return answer

    def tally(self) -> Counter:
        """How many connections got each answer ('200', '429 rate_limited', 'no answer' (held), …)."""
        return Counter(answer.label for answer in self.answers)

    def held_count(self) -> int:
        """How many requests the server holds open (streams answered 200, long-polls not answered yet)."""
        return sum(1 for answer in self.answers if answer.status in (0, 200))

    def refusals(self) -> list[Answer]:
        """The answers that refused the request."""
        return [answer for answer in self.answers if answer.status >= 400]

    def stop(self) -> None:
        """Reset every held connection, as a client that vanishes does."""
        for client in self.held:
            with contextlib.suppress(OSError):
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
        self.held.clear()
