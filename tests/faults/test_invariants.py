"""The audit that every fault test ends with, and the reconciler run by hand, several at once."""

import threading
from pathlib import Path

import pytest

from tests.support.images import encoded
from tests.support.polling import wait_for_status

pytestmark = pytest.mark.faults


def audit_output(stack) -> tuple[int, str]:
    """Run `flask images audit`; returns its exit code and output."""
    result = stack.app.test_cli_runner().invoke(args=["images", "audit"])
    return result.exit_code, result.output


def test_audit_reports_each_broken_invariant(make_stack):
    stack = make_stack()
    stack.start_worker()
    done = stack.upload(encoded(500, 400), "done.jpg").get_json()
    wait_for_status(stack.client, done["id"], "done")
    stack.stop()
    assert audit_output(stack)[0] == 0
    media = Path(stack.env["STORAGE_ROOT"])
    thumb = next((media / "variants" / done["id"]).glob("thumb.*"))
    thumb.unlink()
    (media / "variants" / "nobody").mkdir(parents=True)
    (media / "variants" / "nobody" / "thumb.webp").write_bytes(b"stray")
    stranded = stack.upload(encoded(300, 200), "stranded.jpg").get_json()
    stack.redis.delete(f"rq:job:image-{stranded['id']}")

    code, output = audit_output(stack)
    assert code != 0
    assert f"missing file\t{done['id']}" in output
    assert "orphan file\tvariants/nobody/thumb.webp" in output
    assert f"no live job\t{stranded['id']}\tjob missing" in output


def test_concurrent_reconcilers_requeue_each_lost_image_exactly_once(make_stack):
    # A queue of its own: no worker of any earlier test can be listening on it.
    stack = make_stack(RECONCILE_GRACE_SECONDS="0", QUEUE_NAME="images-reconciled")
    image_ids = {stack.upload(encoded(200, 100 + n), f"lost-{n}.jpg").get_json()["id"] for n in range(20)}
    stack.redis.flushall()
    outcomes = []

    def run_reconciler():
        with stack.app.app_context():
            from app.maintenance.reconcile import reconcile

            outcomes.extend(reconcile(wait_seconds=30))

    threads = [threading.Thread(target=run_reconciler) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcome.image_id for outcome in outcomes) == sorted(image_ids)
    assert {(outcome.finding, outcome.action) for outcome in outcomes} == {("missing", "requeued")}
    assert stack.redis.llen("rq:queue:images-reconciled") == 20
    result = stack.app.test_cli_runner().invoke(args=["images", "reconcile"])
    assert result.exit_code == 0 and result.output.strip() == "0 images reconciled."
    assert audit_output(stack)[0] == 0


def test_reconciler_never_touches_a_done_image(make_stack):
    stack = make_stack(RECONCILE_GRACE_SECONDS="0")
    stack.start_worker()
    created = stack.upload(encoded(300, 200), "finished.jpg").get_json()
    wait_for_status(stack.client, created["id"], "done")
    stack.redis.flushall()
    with stack.app.app_context():
        from app.pipeline import records

        assert not records.requeue_unfinished(created["id"], "should not happen")
        # A late failure callback (a duplicate run losing a race) cannot undo done either.
        records.mark_attempt_failed(created["id"], "processing_error", "late failure", will_retry=False)
    result = stack.app.test_cli_runner().invoke(args=["images", "reconcile"])
    assert result.output.strip() == "0 images reconciled."
    assert stack.client.get(f"/api/images/{created['id']}").get_json()["status"] == "done"


def test_a_job_popped_by_a_worker_that_died_before_starting_it_is_requeued(make_stack):
    # A queue of its own: no worker of any earlier test can be listening on it.
    stack = make_stack(RECONCILE_GRACE_SECONDS="0", QUEUE_NAME="images-stranded")
    created = stack.upload(encoded(300, 200), "popped.jpg").get_json()
    job_id = f"image-{created['id']}"
    # What BLPOP does for a worker killed a moment later: out of the queue, still saying queued.
    assert stack.redis.lrem("rq:queue:images-stranded", 0, job_id) == 1
    assert "job stranded" in audit_output(stack)[1]

    result = stack.app.test_cli_runner().invoke(args=["images", "reconcile"])
    assert f"{created['id']}\tstranded\trequeued" in result.output
    assert stack.redis.lrange("rq:queue:images-stranded", 0, -1) == [job_id.encode()]
    assert audit_output(stack)[0] == 0
