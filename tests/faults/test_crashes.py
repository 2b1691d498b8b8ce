"""Workers dying mid-job: killed outright, work horse killed, asked to stop. Nothing is lost or done twice."""

import signal
import time

import pytest

from app.storage import LocalStorage
from tests.faults.conftest import FAST_RECOVERY, image_status, kill_tree, work_horse
from tests.support.images import corpus_photo
from tests.support.polling import wait_for_status, wait_until

pytestmark = pytest.mark.faults

BIG_PHOTO = "kay_5120x2880.png"  # a PNG: no draft decoding, so each run takes a while


@pytest.fixture(params=["prefork", "fork"])
def fault_stack(request, make_fault_stack, redis_url):
    """A FaultStack (cron running, no workers yet) for each worker class that runs jobs in a work horse."""
    stack = make_fault_stack(redis_url, WORKER_CLASS=request.param)
    stack.start_cron()
    return stack


def upload_and_wait_until_processing(stack, photo: str = BIG_PHOTO) -> str:
    """Upload a large photo and return its id once a worker has claimed it."""
    created = stack.upload(corpus_photo(photo), photo)
    assert created.status_code == 202
    image_id = created.get_json()["id"]
    wait_until(lambda: image_status(stack, image_id) == "processing", 30, 0.02, what="the claim")
    return image_id


def variant_files(stack, image_id: str) -> list[str]:
    """The variant files stored for an image."""
    return list(LocalStorage(stack.env["STORAGE_ROOT"]).keys(f"variants/{image_id}/"))


def test_killed_worker_tree_mid_resize_is_processed_again_within_the_bound(fault_stack):
    fault_stack.start_worker("one")
    fault_stack.start_worker("two")
    image_id = upload_and_wait_until_processing(fault_stack)
    doomed = wait_until(lambda: job_started_by(fault_stack, image_id), 10, 0.01, what="the job to start")
    killed_at = time.monotonic()
    kill_tree(fault_stack.worker_named(doomed))

    image = wait_for_status(fault_stack.client, image_id, {"done", "failed"}, timeout=60)
    recovered_in = time.monotonic() - killed_at
    assert image["status"] == "done", image["error"]
    assert image["attempts"] == 2
    # Heartbeat silence + one reconcile interval + one processing run (well under 10 s here), with CI slack.
    bound = int(FAST_RECOVERY["ABANDONED_AFTER_SECONDS"]) + int(FAST_RECOVERY["RECONCILE_INTERVAL"]) + 20
    print(f"killed worker's image done {recovered_in:.1f} s after the kill (bound {bound} s)")
    assert recovered_in < bound
    assert len(image["variants"]) == 4 and len(variant_files(fault_stack, image_id)) == 4


def test_killed_work_horse_is_retried_to_done(fault_stack):
    worker = fault_stack.start_worker()
    image_id = upload_and_wait_until_processing(fault_stack)
    work_horse(worker).send_signal(signal.SIGKILL)

    image = wait_for_status(fault_stack.client, image_id, {"done", "failed"}, timeout=60)
    assert image["status"] == "done", image["error"]
    assert image["attempts"] == 2
    assert worker.poll() is None, "the worker itself survives its work horse"
    assert len(variant_files(fault_stack, image_id)) == 4


def test_sigterm_finishes_the_job_then_the_worker_exits(fault_stack):
    worker = fault_stack.start_worker()
    image_id = upload_and_wait_until_processing(fault_stack)
    worker.send_signal(signal.SIGTERM)

    assert worker.wait(timeout=60) == 0
    image = wait_for_status(fault_stack.client, image_id, {"done", "failed"}, timeout=10)
    assert image["status"] == "done", image["error"]
    assert image["attempts"] == 1, "a warm shutdown must not make anyone run the job again"


def test_an_image_whose_workers_keep_dying_ends_failed(make_fault_stack, redis_url):
    """A poison image (one that kills whatever processes it) must not go round forever."""
    slow = {"STORAGE_BACKEND": "tests.support.slow_storage:SlowStorage", "SLOW_READ_SECONDS": "30"}
    fault_stack = make_fault_stack(redis_url, RECONCILE_MAX_LOST="2", **slow)
    fault_stack.start_cron()
    first = fault_stack.start_worker("first")
    image_id = upload_and_wait_until_processing(fault_stack, "storm_1920x1280.jpg")
    second = fault_stack.start_worker("second")
    kill_tree(first)
    wait_until(lambda: job_started_by(fault_stack, image_id) == "second", 60, 0.02, what="the reclaim by second")
    fault_stack.start_worker("third")
    kill_tree(second)

    image = wait_for_status(fault_stack.client, image_id, {"done", "failed"}, timeout=60)
    assert image["status"] == "failed"
    assert image["error"]["code"] == "processing_error" and "died 2 times" in image["error"]["message"]


def job_started_by(stack, image_id: str) -> str | None:
    """The name of the worker running the image's job right now, if one is."""
    with stack.app.app_context():
        from app.pipeline.jobs import fetch_job, job_id_for

        job = fetch_job(job_id_for(image_id))
        return job.worker_name if job and job.get_status() == "started" else None
