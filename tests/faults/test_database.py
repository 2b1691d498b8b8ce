"""The database failing inside jobs, many workers writing at once, and the same image processed twice."""

import pytest
from rq import Retry

from app.storage import LocalStorage
from tests.faults.flaky_database import FAILURES_KEY, MODE_KEY
from tests.support.images import corpus_photo, encoded
from tests.support.polling import wait_for_status, wait_until

pytestmark = pytest.mark.faults

OUTAGE = "tests.faults.flaky_database:DatabaseOutageStorage"


def variant_rows_and_files(stack, image_id: str) -> tuple[int, int]:
    """How many variant rows and variant files the image has."""
    with stack.app.app_context():
        from app.extensions import db
        from app.models import Image

        rows = len(db.session.get(Image, image_id).variants)
        db.session.rollback()
    return rows, len(list(LocalStorage(stack.env["STORAGE_ROOT"]).keys(f"variants/{image_id}/")))


def test_failing_to_record_variants_is_retried_and_leaves_no_file_without_its_row(make_fault_stack, redis_url):
    stack = make_fault_stack(redis_url, STORAGE_BACKEND=OUTAGE, RETRY_MAX="3")
    stack.start_cron()
    stack.start_worker()
    stack.redis.set(MODE_KEY, "variants")
    stack.redis.set(FAILURES_KEY, 2)
    created = stack.upload(encoded(900, 600), "outage.jpg").get_json()

    image = wait_for_status(stack.client, created["id"], {"done", "failed"}, timeout=60)
    assert image["status"] == "done", image["error"]
    assert image["attempts"] == 3
    assert variant_rows_and_files(stack, image["id"]) == (4, 4)


def test_database_down_longer_than_every_retry_is_settled_by_the_reconciler(make_fault_stack, redis_url):
    stack = make_fault_stack(redis_url, STORAGE_BACKEND=OUTAGE, RETRY_MAX="1")
    stack.start_cron()
    stack.start_worker()
    stack.redis.set(MODE_KEY, "all")
    stack.redis.set(FAILURES_KEY, 10**6)
    created = stack.upload(encoded(900, 600), "down.jpg").get_json()
    job_id = f"image-{created['id']}"
    with stack.app.app_context():
        from app.pipeline.jobs import fetch_job

        # Both attempts fail and neither can record it: the row is still queued, the job is failed.
        wait_until(lambda: fetch_job(job_id).get_status() == "failed", 60, what="the job to run out of retries")
    assert stack.client.get(f"/api/images/{created['id']}").get_json()["status"] == "queued"

    stack.redis.delete(MODE_KEY)
    image = wait_for_status(stack.client, created["id"], {"done", "failed"}, timeout=60)
    assert image["status"] == "done", image["error"]
    assert variant_rows_and_files(stack, image["id"]) == (4, 4)


def test_four_workers_writing_at_once_never_hit_a_locked_database(fault_stack):
    for _ in range(4):
        fault_stack.start_worker()
    ids = [fault_stack.upload(encoded(640, 480 + n), f"busy-{n}.jpg").get_json()["id"] for n in range(40)]
    for image_id in ids:
        image = wait_for_status(fault_stack.client, image_id, {"done", "failed"}, timeout=120)
        assert image["status"] == "done", image["error"]
        assert image["attempts"] == 1
    assert "database is locked" not in fault_stack.worker_logs()


def test_two_workers_on_the_same_image_leave_one_set_of_variants(fault_stack):
    fault_stack.start_worker()
    fault_stack.start_worker()
    created = fault_stack.upload(corpus_photo("elephants_3840x2160.jpg"), "twice.jpg").get_json()
    with fault_stack.app.app_context():
        from app.extensions import redis_queue
        from app.pipeline.jobs import process_image

        # Two extra jobs for one image, besides its own: workers race on it.
        for copy in ("a", "b"):
            redis_queue.queue.enqueue(process_image, created["id"], job_id=f"copy-{copy}", retry=Retry(max=2))

    image = wait_for_status(fault_stack.client, created["id"], "done", timeout=60)
    with fault_stack.app.app_context():
        from app.pipeline.jobs import fetch_job

        wait_until(
            lambda: all(fetch_job(job_id).get_status() in ("finished", "failed") for job_id in ("copy-a", "copy-b")),
            60,
            what="both copies to end",
        )
    assert variant_rows_and_files(fault_stack, image["id"]) == (4, 4)
    assert fault_stack.client.get(f"/api/images/{image['id']}").get_json()["status"] == "done"
