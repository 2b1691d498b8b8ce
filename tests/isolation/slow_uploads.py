"""The slow-upload attack: many keyed uploads whose bodies trickle in, a byte every few seconds.

Each connection sends a whole request head with a valid key and a large Content-Length, then one byte of body at a
time, often enough never to stall for CLIENT_TIMEOUT. A server that holds a database connection from the key lookup
until the body is read runs out of its pool with a few dozen of them. `make bench` reuses this class (start, then
the victim's figures, then stop).
"""

import contextlib
import socket
import struct
import threading
import time
from urllib.parse import urlsplit

from tests.isolation.raw_http import Answer, read_answer

ANNOUNCED_BYTES = 1_000_000
TRICKLE_SECONDS = 10.0  # well under the default CLIENT_TIMEOUT (30 s): the server must hold them


class SlowUploads:
    """count raw-body uploads of key to url, kept alive by one byte every trickle_seconds until stop()."""

    def __init__(self, url: str, key: str, count: int = 100, trickle_seconds: float = TRICKLE_SECONDS):
        parts = urlsplit(url)
        self.address = (parts.hostname, parts.port)
        self.key, self.count, self.trickle_seconds = key, count, trickle_seconds
        self.sockets: list[socket.socket] = []
        self.stopped = threading.Event()
        self.trickler: threading.Thread | None = None

    def head(self) -> bytes:
        """A raw-body upload's request head: a valid key, a JPEG type, a body far larger than what will come."""
        return (
            f"POST /api/images HTTP/1.1\r\nHost: pixline\r\nAuthorization: Bearer {self.key}\r\n"
            f"Content-Type: image/jpeg\r\nX-Filename: slow.jpg\r\nContent-Length: {ANNOUNCED_BYTES}\r\n\r\n"
        ).encode()

    def start(self) -> "SlowUploads":
        """Open every connection, send its head and the first body bytes, and keep them trickling."""
        for _ in range(self.count):
            client = socket.create_connection(self.address, timeout=30)
            client.sendall(self.head() + b"\xff\xd8")
            self.sockets.append(client)
        self.trickler = threading.Thread(target=self._trickle, name="slow-uploads", daemon=True)
        self.trickler.start()
        return self

    def _trickle(self) -> None:
        """One more byte on every connection each trickle_seconds, until stopped."""
        while not self.stopped.wait(self.trickle_seconds):
            for client in self.sockets:
                with contextlib.suppress(OSError):
                    client.sendall(b"\0")

    def stall(self, timeout: float = 90) -> list[Answer]:
        """Stop trickling and read what the server answers each connection (a stalled body: 408 client_timeout)."""
        self.stopped.set()
        if self.trickler:
            self.trickler.join()
        deadline = time.monotonic() + timeout
        return [read_answer(client, max(0.1, deadline - time.monotonic())) for client in self.sockets]

    def stop(self) -> None:
        """Stop trickling and reset every connection."""
        self.stopped.set()
        for client in self.sockets:
            with contextlib.suppress(OSError):
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
        self.sockets.clear()
