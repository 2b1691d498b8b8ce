"""A DELETE while storage fails: 503 to retry, the image hidden, and the files gone once a retry or the reconciler
finishes it; never a 500, never files left behind."""

import pytest

from app.storage import LocalStorage
from tests.faults.unreliable_delete_storage import DOWN_KEY
from tests.support.images import encoded
from tests.support.polling import wait_for_status, wait_until

pytestmark = pytest.mark.faults

UNRELIABLE = "tests.faults.unreliable_delete_storage:UnreliableDeleteStorage"


def files_of(stack, image_id: str) -> list[str]:
    """Every stored key that belongs to the image."""
    return [key for key in LocalStorage(stack.env["STORAGE_ROOT"]).keys("") if image_id in key]


def row_exists(stack, image_id: str) -> bool:
    """Whether the database still has the image's row (in any status)."""
    with stack.app.app_context():
        from app.extensions import db
        from app.models import Image

        found = db.session.get(Image, image_id) is not None
        db.session.rollback()
        return found


@pytest.fixture
def done_image(make_fault_stack, redis_url):
    """A stack whose deletes can fail, and one processed image on it."""
    stack = make_fault_stack(redis_url, STORAGE_BACKEND=UNRELIABLE)
    stack.start_worker()
    image = wait_for_status(stack.client, stack.upload(encoded(900, 600)).get_json()["id"], "done")
    return stack, image["id"]


def test_delete_with_storage_down_is_503_and_a_retry_finishes_it(done_image):
    stack, image_id = done_image
    stack.redis.set(DOWN_KEY, 1)
    refused = stack.client.delete(f"/api/images/{image_id}")
    assert refused.status_code == 503
    assert refused.get_json()["error"]["code"] == "unavailable"
    assert stack.client.get(f"/api/images/{image_id}").status_code == 404
    assert image_id not in [item["id"] for item in stack.client.get("/api/images").get_json()["items"]]
    assert stack.client.delete(f"/api/images/{image_id}").status_code == 503

    stack.redis.delete(DOWN_KEY)
    assert stack.client.delete(f"/api/images/{image_id}").status_code == 204
    assert files_of(stack, image_id) == []
    assert not row_exists(stack, image_id)
    assert stack.client.delete(f"/api/images/{image_id}").status_code == 404
    stack.audit()


def test_a_delete_storage_interrupted_is_finished_by_the_reconciler(done_image):
    stack, image_id = done_image
    stack.start_cron()
    stack.redis.set(DOWN_KEY, 1)
    assert stack.client.delete(f"/api/images/{image_id}").status_code == 503
    assert files_of(stack, image_id) != []

    stack.redis.delete(DOWN_KEY)
    wait_until(lambda: not row_exists(stack, image_id), 30, what="the reconciler to finish the delete")
    assert files_of(stack, image_id) == []
    stack.audit()


def test_a_job_never_claims_an_image_being_deleted(done_image):
    stack, image_id = done_image
    stack.redis.set(DOWN_KEY, 1)
    assert stack.client.delete(f"/api/images/{image_id}").status_code == 503
    with stack.app.app_context():
        from app.pipeline.jobs import enqueue_processing, fetch_job

        job = enqueue_processing(image_id)
        wait_until(lambda: fetch_job(job.id).get_status() == "finished", 30, what="the job to end")
        assert fetch_job(job.id).return_value() == {"image_id": image_id, "skipped": True}
    stack.redis.delete(DOWN_KEY)
    assert stack.client.delete(f"/api/images/{image_id}").status_code == 204
    assert files_of(stack, image_id) == []


def test_cli_delete_with_storage_down_exits_1_and_says_it_is_unfinished(done_image):
    stack, image_id = done_image
    stack.redis.set(DOWN_KEY, 1)
    result = stack.app.test_cli_runner().invoke(args=["images", "delete", image_id])
    assert result.exit_code == 1, result.output
    assert f"{image_id}: left deleting" in result.output
    stack.redis.delete(DOWN_KEY)
    assert stack.app.test_cli_runner().invoke(args=["images", "delete", image_id]).exit_code == 0
    assert files_of(stack, image_id) == []
