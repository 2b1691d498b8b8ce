"""GET /api/events over real HTTP (gunicorn as make run starts it) while a real worker processes the images."""

import json

import pytest
import requests

from tests.support.images import encoded
from tests.support.polling import wait_for_status
from tests.support.web import WebServer

pytestmark = pytest.mark.integration


@pytest.fixture
def served(make_stack, tmp_path):
    """A Stack (no worker yet) served by gunicorn."""
    stack = make_stack(EVENT_STREAM_MAX_SECONDS="60")
    web = WebServer(stack.env, tmp_path / "web.log")
    yield web, stack
    web.stop()


def keyed(stack) -> dict:
    """The headers that carry the stack's API key."""
    return {"Authorization": f"Bearer {stack.api_key}"}


def events_of(lines, until_status: str | None = None, count: int | None = None) -> list[dict]:
    """Read status events from a stream's lines until one has until_status (or count were read)."""
    found, fields = [], {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
            continue
        if fields.get("event") == "status":
            found.append({"id": int(fields["id"]), **json.loads(fields["data"])})
            if found[-1]["status"] == until_status or len(found) == count:
                return found
        fields = {}
    raise AssertionError(f"the stream ended after {found}")


def test_one_stream_follows_several_images_through_processing(served):
    web, stack = served
    image_ids = [stack.upload(encoded(320, 240)).get_json()["id"] for _ in range(2)]
    url = f"{web.url}/api/events?ids={','.join(image_ids)}"
    with requests.get(url, stream=True, headers=keyed(stack), timeout=(5, 90)) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        lines = response.iter_lines(decode_unicode=True)
        first = events_of(lines, count=2)
        assert {event["image_id"] for event in first} == set(image_ids)
        stack.start_worker()
        done = set()
        seen = first
        while done != set(image_ids):
            event = events_of(lines, count=1)[0]
            seen.append(event)
            if event["status"] == "done":
                done.add(event["image_id"])
    ids = [event["id"] for event in seen[2:]]
    assert ids == sorted(ids), "event ids only grow"
    for image_id in image_ids:
        assert [e["status"] for e in seen[2:] if e["image_id"] == image_id][-2:] == ["processing", "done"]


def test_a_reconnect_with_last_event_id_gets_the_changes_it_missed(served):
    web, stack = served
    image_id = stack.upload(encoded(320, 240)).get_json()["id"]
    url = f"{web.url}/api/events?ids={image_id}"
    with requests.get(url, stream=True, headers=keyed(stack), timeout=(5, 30)) as response:
        last_seen = events_of(response.iter_lines(decode_unicode=True), count=1)[0]["id"]
    stack.start_worker()  # the image is processed while nobody listens
    wait_for_status(stack.client, image_id, "done")
    headers = {**keyed(stack), "Last-Event-ID": str(last_seen)}
    with requests.get(url, stream=True, headers=headers, timeout=(5, 30)) as response:
        missed = events_of(response.iter_lines(decode_unicode=True), until_status="done")
    assert [event["status"] for event in missed if event["id"] > last_seen] == ["processing", "done"]
