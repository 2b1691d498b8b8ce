"""The sender's deadline is a total one: a receiver that trickles its answer is cut off on time, not per read."""

import socket
import threading
import time

from app.pipeline.webhooks import sender, ssrf

HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"


class TricklingReceiver:
    """Accepts one request, then sends its answer one byte at a time, each well inside any per-read timeout."""

    def __init__(self, answer: bytes, head_at_once: bool = False, gap: float = 0.2):
        self.answer, self.head_at_once, self.gap = answer, head_at_once, gap
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hooks"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self.sock.accept()
        with connection:
            connection.recv(65536)
            answer = self.answer
            if self.head_at_once:
                connection.sendall(HEAD)
            try:
                for byte in answer:
                    connection.sendall(bytes([byte]))
                    time.sleep(self.gap)
            except OSError:
                pass  # the sender gave up, as it should

    def close(self) -> None:
        self.sock.close()


def post_to(receiver: TricklingReceiver) -> tuple[sender.Answer, float]:
    """POST to the receiver with a 2 s total deadline; the answer and how long it took."""
    try:
        target = ssrf.check_url(receiver.url, allow_http=True, allow_private=True)
        started = time.monotonic()
        answer = sender.post(target, b"{}", {}, connect_timeout=1, total_timeout=2)
        return answer, time.monotonic() - started
    finally:
        receiver.close()


def test_a_receiver_trickling_its_status_line_is_cut_off_at_the_total_deadline():
    answer, took = post_to(TricklingReceiver(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000))
    assert answer.status_code is None and answer.error == "timed out"
    # Each byte came within 0.2 s: only a total deadline ends this at 2 s (a per-read one would run ~200 s).
    assert took < 4


def test_a_receiver_trickling_its_body_is_cut_off_at_the_total_deadline_its_status_kept():
    answer, took = post_to(TricklingReceiver(b"b" * 100000, head_at_once=True))
    # The 200 arrived in time: the receiver took the event; the rest of its body is not waited for.
    assert answer.status_code == 200
    assert took < 4
