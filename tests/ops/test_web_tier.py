"""The production web server holds waiting clients without a thread each, and drops clients that stall."""

import json
import threading

import pytest
import requests

from tests.support.images import encoded
from tests.support.web import WebServer, read_until_closed

WAITING_POLLS = 60  # more than a gthread server of one process has threads (16)


@pytest.fixture
def make_web(make_stack, tmp_path):
    """Serve a Stack (no worker) through web_command with environment overrides."""
    servers = []

    def build(**overrides: str) -> tuple[WebServer, object]:
        # The web tier is the subject (raw sockets, no keys); access control has its own matrix.
        stack = make_stack(API_AUTH="off", **overrides)
        servers.append(WebServer(stack.env, tmp_path / f"web-{len(servers)}.log"))
        return servers[-1], stack

    yield build
    for server in servers:
        server.stop()


def test_many_waiting_long_polls_leave_healthz_and_uploads_answering(make_web):
    web, stack = make_web()
    image_id = stack.upload(encoded(fmt="PNG")).get_json()["id"]  # no worker: it stays queued
    answers = []

    def long_poll() -> None:
        answers.append(requests.get(f"{web.url}/api/images/{image_id}?wait=30&status=queued", timeout=60).json())

    polls = [threading.Thread(target=long_poll) for _ in range(WAITING_POLLS)]
    for poll in polls:
        poll.start()
    try:
        assert requests.get(f"{web.url}/healthz", timeout=10).status_code == 200
        upload = requests.post(f"{web.url}/api/images", files={"file": ("a.png", encoded(fmt="PNG"))}, timeout=10)
        assert upload.status_code == 202, upload.text
        assert answers == [], "a long-poll answered before its image changed"
    finally:
        stack.start_worker()  # the image is processed: every poll answers with its new status
        for poll in polls:
            poll.join(timeout=90)
    assert len(answers) == WAITING_POLLS
    assert {answer["status"] for answer in answers} <= {"processing", "done"}


def test_a_client_that_stalls_mid_body_gets_408_client_timeout_and_nothing_is_stored(make_web):
    web, stack = make_web(CLIENT_TIMEOUT="1")
    client = web.connect()
    head = "POST /api/images HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=b\r\n"
    client.sendall(f"{head}Content-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data;".encode())
    response = read_until_closed(client, 30)
    status_line, _, body = response.partition(b"\r\n\r\n")
    assert status_line.startswith(b"HTTP/1.1 408"), response[:300]
    assert json.loads(body)["error"]["code"] == "client_timeout"
    assert stack.client.get("/api/images").get_json()["items"] == []
    assert "Traceback" not in web.log()


def test_a_client_that_stalls_mid_headers_is_dropped(make_web):
    web, _ = make_web(CLIENT_TIMEOUT="1")
    client = web.connect()
    client.sendall(b"POST /api/images HTTP/1.1\r\nHost: t\r\nX-Slow: ")
    assert read_until_closed(client, 30) == b""
    assert requests.get(f"{web.url}/healthz", timeout=10).status_code == 200


def chunks(data: bytes, size: int = 64 * 1024):
    """The body as a generator: requests sends it chunked, with no Content-Length."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_a_chunked_raw_upload_is_accepted_and_one_streaming_past_the_limit_is_413(make_web):
    web, stack = make_web(MAX_UPLOAD_BYTES="100000")
    headers = {"Content-Type": "image/png", "X-Filename": "streamed.png"}
    small = encoded(64, 48, "PNG")
    answer = requests.post(f"{web.url}/api/images", data=chunks(small), headers=headers, timeout=30)
    assert answer.status_code == 202, answer.text
    assert answer.json()["filename"] == "streamed.png" and answer.json()["bytes"] == len(small)
    big = small + b"\0" * 200_000
    answer = requests.post(f"{web.url}/api/images", data=chunks(big), headers=headers, timeout=30)
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"
    assert len(stack.client.get("/api/images").get_json()["items"]) == 1
