"""Faults inside the work horse (segfault, OOM kill, a hang its alarm cannot stop, a leak): the worker carries on.

Each runs against every worker class that isolates jobs in a work horse (`prefork`, the default, and `fork`),
except where a test says why not. The faults come from tests/support/crashing_storage.py, through the
STORAGE_BACKEND plug-in seam, so they strike in the process running the job, as a broken decoder would.
"""

import time

import psutil
import pytest

from tests.faults.conftest import FAST_RECOVERY, image_status, work_horse
from tests.support.crashing_storage import HANG_ONCE, LEAK, OOM_KILL_ONCE, SEGFAULT, marked_jpeg
from tests.support.images import corpus_photo
from tests.support.polling import wait_for_status, wait_until

pytestmark = pytest.mark.faults

ISOLATING_CLASSES = ("prefork", "fork")
CRASHING = {"STORAGE_BACKEND": "tests.support.crashing_storage:CrashingStorage"}


@pytest.fixture
def crash_stack(make_fault_stack, redis_url):
    """Build a FaultStack on the crashing storage with the cron running, for a WORKER_CLASS and overrides."""

    def build(worker_class: str, **overrides: str):
        stack = make_fault_stack(redis_url, WORKER_CLASS=worker_class, **CRASHING, **overrides)
        stack.start_cron()
        return stack

    return build


def upload(stack, data: bytes, filename: str = "photo.jpg") -> str:
    """Upload an image; its id."""
    created = stack.upload(data, filename)
    assert created.status_code == 202, created.get_json()
    return created.get_json()["id"]


@pytest.mark.parametrize("worker_class", ISOLATING_CLASSES)
def test_a_segfault_on_one_image_fails_only_that_image_on_the_same_worker(crash_stack, worker_class):
    stack = crash_stack(worker_class, RETRY_MAX="1")
    worker = stack.start_worker()
    poison = upload(stack, marked_jpeg(SEGFAULT), "poison.jpg")
    healthy = [upload(stack, corpus_photo("storm_1920x1280.jpg"), f"storm-{n}.jpg") for n in range(3)]

    for image_id in healthy:
        image = wait_for_status(stack.client, image_id, {"done", "failed"}, timeout=60)
        assert image["status"] == "done", image["error"]
        assert image["attempts"] == 1, "a crash in another job must not cost this one an attempt"
    assert wait_for_status(stack.client, poison, {"done", "failed"}, timeout=90)["status"] == "failed"
    assert worker.poll() is None, "the worker survives its work horse's segfaults"


def test_a_segfaulting_image_fails_once_its_retries_are_spent(crash_stack):
    """prefork only: fork's RQ worker skips on_failure when its horse dies, so only the reconciler fails the row,
    after RECONCILE_MAX_LOST more rounds of retries."""
    stack = crash_stack("prefork", RETRY_MAX="1")
    stack.start_worker()
    poison = upload(stack, marked_jpeg(SEGFAULT), "poison.jpg")

    failed = wait_for_status(stack.client, poison, {"done", "failed"}, timeout=60)
    assert failed["status"] == "failed"
    assert failed["attempts"] == 2, "one attempt and its one retry"
    assert failed["error"]["code"] == "processing_error" and "SIGSEGV" in failed["error"]["message"]


@pytest.mark.parametrize("worker_class", ISOLATING_CLASSES)
def test_an_oom_killed_job_is_retried_to_done_and_the_next_job_is_undisturbed(crash_stack, worker_class):
    stack = crash_stack(worker_class)
    worker = stack.start_worker()
    killed = upload(stack, marked_jpeg(OOM_KILL_ONCE), "greedy.jpg")
    after = upload(stack, corpus_photo("storm_1920x1280.jpg"))

    image = wait_for_status(stack.client, killed, {"done", "failed"}, timeout=60)
    assert image["status"] == "done", image["error"]
    assert image["attempts"] == 2
    image = wait_for_status(stack.client, after, {"done", "failed"}, timeout=60)
    assert image["status"] == "done", image["error"]
    assert image["attempts"] == 1
    assert worker.poll() is None


def test_a_hang_the_alarm_cannot_stop_is_killed_after_the_grace_and_retried_to_done(crash_stack):
    """prefork only: fork's worker waits JOB_TIMEOUT + 60 s (RQ's grace) before it kills, too long for a test."""
    from app.pipeline.workhorse import OVERRUN_GRACE_SECONDS

    stack = crash_stack("prefork", JOB_TIMEOUT="2")
    worker = stack.start_worker()
    started = time.monotonic()
    image_id = upload(stack, marked_jpeg(HANG_ONCE), "stuck.jpg")

    image = wait_for_status(stack.client, image_id, {"done", "failed"}, timeout=60)
    assert image["status"] == "done", image["error"]
    assert image["attempts"] == 2
    # Killed after timeout + grace, retried after RETRY_BASE_SECONDS; slack for this busy machine.
    assert time.monotonic() - started < 2 + OVERRUN_GRACE_SECONDS + 20
    assert any("work horse killed" in message for message in event_messages(stack, image_id))
    assert worker.poll() is None


def test_a_horse_that_leaked_past_its_limit_is_replaced_before_the_next_job(crash_stack):
    """prefork only: a fork horse never outlives its job, so there is nothing to replace."""
    stack = crash_stack("prefork")
    worker = stack.start_worker()
    first = upload(stack, corpus_photo("storm_1920x1280.jpg"))
    assert wait_for_status(stack.client, first, {"done", "failed"}, timeout=60)["status"] == "done"
    horse = work_horse(worker)
    leaky = upload(stack, marked_jpeg(LEAK), "leaky.jpg")
    assert wait_for_status(stack.client, leaky, {"done", "failed"}, timeout=60)["status"] == "done"

    wait_until(lambda: not _is_alive(horse), 20, what="the leaking horse to exit")
    after = upload(stack, corpus_photo("storm_1920x1280.jpg"))
    image = wait_for_status(stack.client, after, {"done", "failed"}, timeout=60)
    assert image["status"] == "done", image["error"]
    assert work_horse(worker).pid != horse.pid


@pytest.mark.parametrize("worker_class", ISOLATING_CLASSES)
def test_a_job_outlasting_abandoned_after_seconds_is_not_taken_from_its_live_worker(
    make_fault_stack, redis_url, worker_class
):
    """The worker heartbeats while its horse works, so a long job is never mistaken for an abandoned one."""
    slow_seconds = int(FAST_RECOVERY["ABANDONED_AFTER_SECONDS"]) + 4
    slow = {"STORAGE_BACKEND": "tests.support.slow_storage:SlowStorage", "SLOW_READ_SECONDS": str(slow_seconds)}
    stack = make_fault_stack(redis_url, WORKER_CLASS=worker_class, **slow)
    stack.start_cron()
    stack.start_worker()
    image_id = upload(stack, corpus_photo("storm_1920x1280.jpg"))
    wait_until(lambda: image_status(stack, image_id) == "processing", 30, 0.02, what="the claim")

    image = wait_for_status(stack.client, image_id, {"done", "failed"}, timeout=60)
    assert image["status"] == "done", image["error"]
    assert image["attempts"] == 1, "the reconciler must not re-run a job whose worker is alive"


def event_messages(stack, image_id: str) -> list[str]:
    """The messages of the image's history, as its page shows them."""
    with stack.app.app_context():
        from app.extensions import db
        from app.models import Image

        messages = [event.message or "" for event in db.session.get(Image, image_id).events]
        db.session.rollback()
        return messages


def _is_alive(process: psutil.Process) -> bool:
    """Whether the process still runs (a zombie waiting to be reaped counts as gone)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
