"""The failure callback records the outcome even when the job died in a failed flush of its session."""

import pytest

from app.storage import LocalStorage
from tests.faults.flaky_database import FAILURES_KEY, MODE_KEY
from tests.support.images import encoded
from tests.support.polling import wait_until

pytestmark = pytest.mark.faults

OUTAGE = "tests.faults.flaky_database:DatabaseOutageStorage"


def test_a_job_that_died_in_a_flush_is_recorded_failed_not_left_processing(make_stack):
    # No reconciler: what the row says is what the failure callback recorded, nothing else.
    stack = make_stack(STORAGE_BACKEND=OUTAGE, RETRY_MAX="1", RETRY_BASE_SECONDS="1")
    stack.start_worker()
    stack.redis.set(MODE_KEY, "variants")
    stack.redis.set(FAILURES_KEY, 10**6)
    image_id = stack.upload(encoded(900, 600), "flush.jpg").get_json()["id"]
    with stack.app.app_context():
        from app.pipeline.jobs import fetch_job

        wait_until(lambda: fetch_job(f"image-{image_id}").get_status() == "failed", 60, what="the last attempt")

    image = stack.client.get(f"/api/images/{image_id}").get_json()
    assert image["status"] == "failed", stack.worker_logs()[-3000:]
    assert image["attempts"] == 2
    assert image["error"]["code"] == "processing_error"
    assert "OperationalError" in image["error"]["message"]
    assert image["variants"] == {}
    # The files the attempts wrote before their rows failed are gone with the last one.
    assert list(LocalStorage(stack.env["STORAGE_ROOT"]).keys(f"variants/{image_id}/")) == []


def test_an_attempt_that_died_in_a_flush_is_recorded_as_queued_for_its_retry(make_stack):
    stack = make_stack(STORAGE_BACKEND=OUTAGE, RETRY_MAX="1", RETRY_BASE_SECONDS="600")
    stack.start_worker()
    stack.redis.set(MODE_KEY, "variants")
    stack.redis.set(FAILURES_KEY, 10**6)
    image_id = stack.upload(encoded(900, 600), "flush.jpg").get_json()["id"]

    def recorded():
        image = stack.client.get(f"/api/images/{image_id}").get_json()
        return image if image["error"] else None

    image = wait_until(recorded, 60, what="the first failure to be recorded")
    assert image["status"] == "queued"
    assert image["error"]["code"] == "processing_error"
