"""The production web server holds waiting clients without a thread each, bounds them per owner, address and process,
holds no database connection for a client that waits or trickles its body, and drops clients that stall."""

import io
import json
import threading

import pytest
import requests

from tests.conftest import TEST_OWNER, authorize, make_key
from tests.isolation.slow_uploads import SlowUploads
from tests.isolation.stream_flood import TOKEN_TAG, StreamFlood, event_stream, long_poll
from tests.support.images import encoded
from tests.support.polling import wait_until
from tests.support.web import WebServer, read_until_closed

OWNERS, POLLS_EACH = 2, 30  # more long-polls than a gthread server of one process has threads (16)


@pytest.fixture
def make_web(make_stack, tmp_path):
    """Serve a Stack (no worker; API_AUTH=required, its key in stack.api_key) through web_command."""
    servers = []

    def build(**overrides: str) -> tuple[WebServer, object]:
        stack = make_stack(**overrides)
        servers.append(WebServer(stack.env, tmp_path / f"web-{len(servers)}.log"))
        return servers[-1], stack

    yield build
    for server in servers:
        server.stop()


def bearer(key: str) -> dict[str, str]:
    """The Authorization header of key."""
    return {"Authorization": f"Bearer {key}"}


def queued_image(stack, key: str) -> str:
    """The id of an image key's owner uploads (it stays queued: no worker runs)."""
    form = {"file": (io.BytesIO(encoded(fmt="PNG")), "a.png")}
    return authorize(stack.app.test_client(), key).post("/api/images", data=form).get_json()["id"]


def test_many_waiting_long_polls_leave_healthz_and_uploads_answering(make_web):
    web, stack = make_web()
    keys = [make_key(stack.app, f"owner-{number}") for number in range(OWNERS)]
    # One image per owner (no worker: each stays queued), long-polled by its owner POLLS_EACH times at once.
    polled = [(key, queued_image(stack, key)) for key in keys]
    answers = []

    def long_poll(key: str, image_id: str) -> None:
        url = f"{web.url}/api/images/{image_id}?wait=30&status=queued"
        answers.append(requests.get(url, headers=bearer(key), timeout=60).json())

    polls = [threading.Thread(target=long_poll, args=pair) for pair in polled for _ in range(POLLS_EACH)]
    for poll in polls:
        poll.start()
    try:
        assert requests.get(f"{web.url}/healthz", timeout=10).status_code == 200
        upload = requests.post(f"{web.url}/api/images", files={"file": ("a.png", encoded(fmt="PNG"))},
                               headers=bearer(stack.api_key), timeout=10)  # fmt: skip
        assert upload.status_code == 202, upload.text
        assert answers == [], "a long-poll answered before its image changed"
    finally:
        stack.start_worker()  # the image is processed: every poll answers with its new status
        for poll in polls:
            poll.join(timeout=90)
    assert len(answers) == OWNERS * POLLS_EACH
    assert {answer["status"] for answer in answers} <= {"processing", "done"}


def test_a_client_that_stalls_mid_body_gets_408_client_timeout_and_nothing_is_stored(make_web):
    web, stack = make_web(CLIENT_TIMEOUT="1")
    client = web.connect()
    head = f"POST /api/images HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {stack.api_key}\r\n"
    head += "Content-Type: multipart/form-data; boundary=b\r\n"
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
    headers = {"Content-Type": "image/png", "X-Filename": "streamed.png", **bearer(stack.api_key)}
    small = encoded(64, 48, "PNG")
    answer = requests.post(f"{web.url}/api/images", data=chunks(small), headers=headers, timeout=30)
    assert answer.status_code == 202, answer.text
    assert answer.json()["filename"] == "streamed.png" and answer.json()["bytes"] == len(small)
    big = small + b"\0" * 200_000
    answer = requests.post(f"{web.url}/api/images", data=chunks(big), headers=headers, timeout=30)
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"
    assert len(stack.client.get("/api/images").get_json()["items"]) == 1


# --- malformed bodies ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["image/png", "multipart/form-data; boundary=b"])
def test_a_malformed_chunked_body_is_400_bad_request_and_the_connection_is_closed(make_web, content_type):
    web, stack = make_web()
    client = web.connect()
    client.sendall(
        f"POST /api/images HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {stack.api_key}\r\n"
        f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n0\r\n\r\n".encode()
    )
    response = read_until_closed(client, 30)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), response[:300]
    assert json.loads(body)["error"]["code"] == "bad_request", "one JSON answer, then the connection is closed"
    assert stack.client.get("/api/images").get_json()["items"] == []
    assert "Traceback" not in web.log()


# --- the database pool -----------------------------------------------------------------------------------------

ONE_CONNECTION = {"DATABASE_POOL_SIZE": "1", "DATABASE_POOL_OVERFLOW": "0", "DATABASE_POOL_TIMEOUT": "2"}


def test_slow_keyed_uploads_and_waiting_clients_hold_no_database_connection(make_web):
    web, stack = make_web(**ONE_CONNECTION)
    image_id = stack.upload(encoded(fmt="PNG")).get_json()["id"]
    attack = SlowUploads(web.url, stack.api_key, count=20).start()  # more than SQLAlchemy's default 5 + 10
    flood = StreamFlood(web.url, [(stack.api_key, event_stream(image_id)),
                                  (stack.api_key, long_poll(image_id, "queued"))], count=6, source="127.0.0.1",
                        answer_seconds=2).start()  # fmt: skip
    try:
        assert flood.held_count() == 6, flood.tally()
        # Every one of them is past its key check: one connection in the pool is enough for everybody else.
        for _ in range(5):
            listing = requests.get(f"{web.url}/api/images", headers=bearer(stack.api_key), timeout=10)
            assert listing.status_code == 200, listing.text
    finally:
        attack.stop()
        flood.stop()


# --- waiting requests per owner, address and process ------------------------------------------------------------


def test_waiting_requests_past_the_owner_cap_get_429_and_vanished_clients_give_their_slots_back(make_web):
    web, stack = make_web(MAX_WAITING_PER_OWNER="3")
    image_id = stack.upload(encoded(fmt="PNG")).get_json()["id"]
    kinds = [(stack.api_key, event_stream(image_id)), (stack.api_key, long_poll(image_id, "queued"))]
    first = StreamFlood(web.url, kinds, count=5, source="127.0.0.1", answer_seconds=3).start()
    assert first.held_count() == 3 and first.tally()["429 rate_limited"] == 2, first.tally()
    refusal = first.refusals()[0]
    assert 1 <= int(refusal.headers["retry-after"]) <= 30
    other_owner = make_key(stack.app, "someone-else")
    other = StreamFlood(web.url, [(other_owner, event_stream())], count=1, source="127.0.0.1").start()
    assert other.held_count() == 1, "another owner is not refused"
    # Clients that vanish (a reset, no goodbye) give their slots back: a stream at its next heartbeat, a long-poll
    # when its wait ends. (Probing with new streams would hold slots itself: the count is read from Redis instead.)
    first.stop()
    counted = f"pixline:waiting:owner:{TEST_OWNER}"
    wait_until(lambda: stack.redis.zcard(counted) == 0, 90, interval=1, what="the vanished clients' slots")
    again = StreamFlood(web.url, [(stack.api_key, event_stream())], count=3, source="127.0.0.1").start()
    assert again.held_count() == 3, again.tally()
    again.stop()
    other.stop()


def test_waiting_requests_past_the_address_cap_get_429_whoever_sends_them(make_web):
    web, stack = make_web(MAX_WAITING_PER_ADDRESS="2")
    owners = [(make_key(stack.app, f"visitor-{number}"), event_stream()) for number in range(3)]
    crowd = StreamFlood(web.url, owners, count=3, source="127.0.0.2").start()
    elsewhere = StreamFlood(web.url, owners, count=1, source="127.0.0.3").start()
    try:
        assert crowd.held_count() == 2 and crowd.tally()["429 rate_limited"] == 1, crowd.tally()
        assert elsewhere.held_count() == 1, "another address is not refused"
    finally:
        crowd.stop()
        elsewhere.stop()


def test_waiting_requests_past_the_process_cap_get_503_unavailable(make_web):
    web, stack = make_web(MAX_WAITING_PER_PROCESS="2")  # one web process
    owners = [(make_key(stack.app, f"visitor-{number}"), event_stream()) for number in range(3)]
    crowd = StreamFlood(web.url, owners, count=3, source="127.0.0.2", openers=1).start()
    try:
        assert crowd.held_count() == 2 and crowd.tally()["503 unavailable"] == 1, crowd.tally()
        assert crowd.refusals()[0].headers["retry-after"].isdigit()
        assert requests.get(f"{web.url}/api/images", headers=bearer(stack.api_key), timeout=10).status_code == 200
    finally:
        crowd.stop()


# --- tokens never in a log line ---------------------------------------------------------------------------------


def test_a_stream_token_in_a_url_is_not_written_to_the_access_log(make_web):
    web, stack = make_web(EVENT_STREAM_MAX_SECONDS="2")  # a stream's access line is written when it ends
    image_id = stack.upload(encoded(fmt="PNG")).get_json()["id"]
    token = requests.post(f"{web.url}/api/events/token", headers=bearer(stack.api_key), timeout=10).json()["token"]
    url = f"{web.url}/api/events?ids={image_id}&access_token={token}"
    with requests.get(url, stream=True, timeout=(5, 30)) as response:
        assert response.status_code == 200
        assert next(response.iter_lines(decode_unicode=True)).startswith("retry:")
    page_token = TOKEN_TAG.search(requests.get(f"{web.url}/", timeout=10).text).group(1)
    refused = requests.get(f"{web.url}/api/events?ids={image_id}&access_token={page_token}", timeout=10)
    assert refused.status_code == 401
    wait_until(lambda: web.log().count("access_token=[redacted]") >= 2, 30, what="both access lines")
    assert token not in web.log() and page_token not in web.log()
