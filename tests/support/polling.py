"""Waiting for background work: poll with a deadline, never a fixed sleep."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float = 30.0, interval: float = 0.05, what: str = "condition") -> T:
    """Call check until it returns something truthy; fail with a message after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def wait_for_status(client, image_id: str, wanted: set[str] | str, timeout: float = 60.0) -> dict:
    """Follow an image through the long-poll API until its status is one of wanted."""
    wanted = {wanted} if isinstance(wanted, str) else wanted
    deadline = time.monotonic() + timeout
    image = answer_of(client, f"/api/images/{image_id}")
    while image["status"] not in wanted:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"image {image_id} still {image['status']} after {timeout:.0f} s: {image['error']}")
        wait = max(1, min(10, int(remaining)))
        image = answer_of(client, f"/api/images/{image_id}?wait={wait}&status={image['status']}")
    return image


def answer_of(client, path: str) -> dict:
    """GET path with a test client and close the response, as a server does (a long-poll's slot is given back then)."""
    with client.get(path) as response:
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.get_data(as_text=True)}"
        return response.get_json()
