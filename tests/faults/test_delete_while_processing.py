"""A DELETE while the image's job runs: the job is stopped (its work horse killed) before the files go, so it writes
no file for a row that is gone; nothing of the image remains and the audit is clean."""

import pytest

from app.storage import LocalStorage
from tests.support.images import encoded
from tests.support.polling import wait_for_status, wait_until

pytestmark = pytest.mark.faults

SLOW = "tests.faults.slow_job_storage:SlowJobStorage"


def files_of(stack, image_id: str) -> list[str]:
    """Every stored key that belongs to the image."""
    return [key for key in LocalStorage(stack.env["STORAGE_ROOT"]).keys("") if image_id in key]


def job_outcome(stack, image_id: str) -> str:
    """How the image's job ended (finished, failed or stopped), once it has ended and no retry is pending."""
    with stack.app.app_context():
        from app.pipeline.jobs import fetch_job

        def ended():
            job = fetch_job(f"image-{image_id}")
            status = job.get_status() if job else None
            return status if status in ("finished", "failed", "stopped") else None

        return wait_until(ended, 60, what="the job to end")


def test_deleted_while_rendering_the_job_is_stopped_and_writes_no_variant(make_fault_stack, redis_url):
    stack = make_fault_stack(redis_url, STORAGE_BACKEND=SLOW, SLOW_OPEN_SECONDS="3")
    stack.start_worker()
    image_id = stack.upload(encoded(900, 600), "doomed.jpg").get_json()["id"]
    wait_for_status(stack.client, image_id, "processing", timeout=30)

    assert stack.client.delete(f"/api/images/{image_id}").status_code == 204
    assert job_outcome(stack, image_id) == "stopped"
    assert files_of(stack, image_id) == []
    assert stack.client.get(f"/api/images/{image_id}").status_code == 404
    stack.audit()


def test_deleted_while_its_files_are_written_the_job_is_stopped_and_its_files_go(make_fault_stack, redis_url):
    stack = make_fault_stack(redis_url, STORAGE_BACKEND=SLOW, SLOW_SAVE_SECONDS="1")
    stack.start_worker()
    image_id = stack.upload(encoded(900, 600), "doomed.jpg").get_json()["id"]
    storage = LocalStorage(stack.env["STORAGE_ROOT"])
    wait_until(lambda: list(storage.keys(f"variants/{image_id}/")), 30, what="the first variant file")

    assert stack.client.delete(f"/api/images/{image_id}").status_code == 204
    assert job_outcome(stack, image_id) == "stopped"
    assert files_of(stack, image_id) == []
    stack.audit()
