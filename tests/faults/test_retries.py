"""Storage failing: for a while (retried with growing waits, then done) or for good (failed, then requeued)."""

import pytest

from tests.support.flaky_storage import FAILURES_KEY
from tests.support.images import encoded
from tests.support.polling import wait_for_status, wait_until

pytestmark = pytest.mark.faults

FLAKY = "tests.support.flaky_storage:FlakyStorage"


def attempt_starts(stack, image_id: str) -> list[float]:
    """When each processing attempt began, from the image's history."""
    with stack.app.app_context():
        from app.extensions import db
        from app.models import Image

        events = db.session.get(Image, image_id).events
        return [event.at.timestamp() for event in events if event.status == "processing"]


def test_transient_storage_failure_is_retried_with_growing_waits(make_fault_stack, redis_url):
    stack = make_fault_stack(redis_url, STORAGE_BACKEND=FLAKY, RETRY_MAX="4", RETRY_BASE_SECONDS="2")
    stack.start_cron()
    stack.start_worker()
    stack.redis.set(FAILURES_KEY, 3)
    created = stack.upload(encoded(300, 200), "flaky.jpg").get_json()
    image = wait_for_status(stack.client, created["id"], {"done", "failed"}, timeout=90)
    assert image["status"] == "done", image["error"]
    assert image["attempts"] == 4
    starts = attempt_starts(stack, image["id"])
    waits = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    # Base 2 s doubling: 2, 4, 8 s, jitter up to +25%; RQ's scheduler keeps whole-second scores, so up to 1 s early.
    for wait, nominal in zip(waits, (2, 4, 8), strict=True):
        assert nominal - 1.05 <= wait <= nominal * 1.25 + 2, waits
    assert waits[0] < waits[2], waits


def test_permanently_failing_storage_ends_failed_then_cli_requeue_brings_it_to_done(make_fault_stack, redis_url):
    stack = make_fault_stack(redis_url, STORAGE_BACKEND=FLAKY, RETRY_MAX="2")
    stack.start_cron()
    stack.start_worker()
    stack.redis.set(FAILURES_KEY, 1000)
    created = stack.upload(encoded(300, 200), "doomed.jpg").get_json()
    image = wait_for_status(stack.client, created["id"], {"done", "failed"}, timeout=90)
    assert image["status"] == "failed"
    assert image["error"]["code"] == "unavailable"
    assert image["attempts"] == 3

    runner = stack.app.test_cli_runner()
    # The failure callback marks the row a moment before RQ files the job as failed.
    listing = wait_until(
        lambda: (result := runner.invoke(args=["jobs", "failed"])).output.startswith("image-") and result,
        10,
        what="the failed-job registry entry",
    )
    assert f"image-{image['id']}" in listing.output and "unavailable" in listing.output
    stack.redis.delete(FAILURES_KEY)
    result = runner.invoke(args=["jobs", "requeue", "--all"])
    assert result.exit_code == 0 and "requeued" in result.output
    again = runner.invoke(args=["jobs", "requeue", f"image-{image['id']}"])
    assert again.exit_code == 0
    image = wait_for_status(stack.client, image["id"], {"done", "failed"}, timeout=60)
    assert image["status"] == "done"
    assert runner.invoke(args=["jobs", "failed"]).output.strip() == "No failed jobs."
