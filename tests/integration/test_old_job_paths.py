"""Jobs queued before the package layout name the old dotted paths: they still run, fail and requeue."""

from pathlib import Path

import pytest
from rq import Callback
from rq.job import JobStatus
from rq.utils import import_attribute

from app.extensions import redis_queue
from app.maintenance.reconcile import reconcile_all
from app.maintenance.retention import prune_jobs
from app.pipeline.direct import cleanup_expired_uploads
from app.pipeline.jobs import job_id_for, on_processing_failure, process_image
from tests.support.images import encoded
from tests.support.polling import wait_for_status, wait_until

# What RQ stored in Redis for jobs and periodic tasks enqueued by the flat layout, and what each must still be.
OLD_PATHS = {
    "app.pipeline.jobs.process_image": process_image,
    "app.pipeline.jobs.on_processing_failure": on_processing_failure,
    "app.maintenance.reconcile.reconcile_all": reconcile_all,
    "app.pipeline.direct.cleanup_expired_uploads": cleanup_expired_uploads,
    "app.maintenance.prune_jobs": prune_jobs,
}


@pytest.mark.parametrize("path", sorted(OLD_PATHS))
def test_old_dotted_path_imports_the_function_that_moved(path):
    assert import_attribute(path) is OLD_PATHS[path]


def enqueue_as_the_flat_layout_did(stack, image_id: str) -> None:
    """Replace the image's job with one naming the old paths, as a deployment upgraded mid-queue holds."""
    with stack.app.app_context():
        queue = redis_queue.queue
        queue.fetch_job(job_id_for(image_id)).delete()
        queue.enqueue_call(
            "app.pipeline.jobs.process_image",
            args=(image_id,),
            job_id=job_id_for(image_id),
            on_failure=Callback("app.pipeline.jobs.on_processing_failure"),
        )


def original_path(stack, image_id: str) -> Path:
    """The original's file on the stack's local storage."""
    return next((stack.tmp_path / "media" / "originals").glob(f"{image_id}.*"))


@pytest.mark.integration
def test_job_queued_under_the_old_path_runs(make_stack):
    stack = make_stack()
    image_id = stack.upload(encoded(300, 200), "old.jpg").get_json()["id"]
    enqueue_as_the_flat_layout_did(stack, image_id)
    stack.start_worker()
    image = wait_for_status(stack.client, image_id, {"done", "failed"})
    assert image["status"] == "done", image["error"]
    assert image["variants"]["thumb"]["width"] == 160 and image["variants"]["large"]["width"] == 300


@pytest.mark.integration
def test_job_failed_under_the_old_path_is_recorded_and_requeues(make_stack):
    stack = make_stack(RETRY_MAX="0")
    image_id = stack.upload(encoded(300, 200), "old.jpg").get_json()["id"]
    original = original_path(stack, image_id)
    hidden = original.with_name("hidden")
    original.rename(hidden)
    enqueue_as_the_flat_layout_did(stack, image_id)
    stack.start_worker()
    failed = wait_for_status(stack.client, image_id, {"done", "failed"})
    # The old failure-callback path ran: the row says why, with the permanent error's code.
    assert failed["status"] == "failed" and failed["error"]["code"] == "invalid_image"
    # The callback records the row before RQ files the job as failed: requeue once RQ has.
    with stack.app.app_context():
        job = redis_queue.queue.fetch_job(job_id_for(image_id))
        wait_until(lambda: job.get_status(refresh=True) == JobStatus.FAILED, 20, what="the job filed as failed")
    hidden.rename(original)
    result = stack.app.test_cli_runner().invoke(args=["jobs", "requeue", job_id_for(image_id)])
    assert result.exit_code == 0 and "requeued" in result.output, result.output
    image = wait_for_status(stack.client, image_id, {"done", "failed"})
    assert image["status"] == "done", image["error"]
