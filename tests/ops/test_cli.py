"""Operator commands through Flask's CLI runner, against a real Redis (and real workers where jobs must run)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import redis
from rq.job import Job, JobStatus

from app.extensions import db
from app.maintenance.failures import failed_registry
from app.models import Image
from tests.support.images import encoded
from tests.support.polling import wait_for_status, wait_until

pytestmark = pytest.mark.integration


def invoke(stack, *args: str):
    """Run `flask <args>` in the stack's app; returns the click result."""
    return stack.app.test_cli_runner().invoke(args=list(args))


def upload(stack, color: str = "red") -> str:
    """Upload a small JPEG; returns its image id."""
    response = stack.upload(encoded(color=color))
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def fail_job(stack, job_id: str, ended_at: datetime) -> None:
    """File a stand-in job in the failed registry, as if it had failed at ended_at."""
    with stack.app.app_context():
        from app.extensions import redis_queue

        queue = redis_queue.queue
        job = Job.create("app.pipeline.jobs.process_image", args=("nope",), id=job_id, connection=queue.connection,
                         serializer=queue.serializer, origin=queue.name)  # fmt: skip
        job.ended_at = ended_at
        job._status = JobStatus.FAILED
        job.save()
        failed_registry().add(job, ttl=3600)


@pytest.fixture
def idle_stack(make_stack):
    """A live app on real Redis with no workers: jobs stay where they are put."""
    return make_stack()


def test_every_command_has_help(idle_stack):
    for command in ("jobs requeue", "jobs purge-failed", "images list", "images reprocess", "images delete",
                    "images stats", "queue stats"):  # fmt: skip
        result = invoke(idle_stack, *command.split(), "--help")
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output


def test_images_list_filters_by_status(idle_stack):
    first, second = upload(idle_stack), upload(idle_stack, "blue")
    with idle_stack.app.app_context():
        db.session.get(Image, first).status = "failed"
        db.session.commit()
    result = invoke(idle_stack, "images", "list", "--status", "failed")
    assert result.exit_code == 0
    assert first in result.output and second not in result.output


def test_images_stats_counts_statuses_and_bytes(idle_stack):
    upload(idle_stack)
    result = invoke(idle_stack, "images", "stats", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["by_status"]["queued"] == 1 and stats["images"] == 1
    assert stats["storage_bytes"] == stats["original_bytes"] > 0


def test_images_delete_removes_row_and_files_and_fails_on_unknown_id(idle_stack):
    image_id = upload(idle_stack)
    result = invoke(idle_stack, "images", "delete", image_id, "no-such-image")
    assert result.exit_code == 1
    assert f"{image_id}: deleted" in result.output and "no-such-image: missing" in result.output
    assert idle_stack.client.get(f"/api/images/{image_id}").status_code == 404
    assert not list((idle_stack.tmp_path / "media").rglob(f"*{image_id}*"))


def test_queue_stats_reports_depth_age_and_workers(idle_stack):
    upload(idle_stack)
    result = invoke(idle_stack, "queue", "stats", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["workers"] == 0
    assert "WARNING: no worker is registered in Redis" in result.stderr
    assert stats["queues"]["images"]["queued"] == 1
    assert stats["queues"]["images"]["oldest_job_age_seconds"] >= 0


def test_purge_failed_removes_only_old_failures(idle_stack):
    now = datetime.now(UTC)
    fail_job(idle_stack, "image-old", now - timedelta(days=10))
    fail_job(idle_stack, "image-new", now - timedelta(minutes=5))
    result = invoke(idle_stack, "jobs", "purge-failed", "--older-than", "7d")
    assert result.exit_code == 0, result.output
    assert "Purged 1 failed jobs." in result.output
    with idle_stack.app.app_context():
        assert failed_registry().get_job_ids() == ["image-new"]
        assert not idle_stack.redis.exists("rq:job:image-old")


def test_requeue_older_than_needs_all_and_a_valid_age(idle_stack):
    assert invoke(idle_stack, "jobs", "requeue", "x", "--older-than", "1h").exit_code == 2
    assert invoke(idle_stack, "jobs", "requeue", "--all", "--older-than", "soon").exit_code == 2
    assert invoke(idle_stack, "jobs", "purge-failed").exit_code == 2


def test_requeue_all_older_than_leaves_recent_failures(idle_stack):
    now = datetime.now(UTC)
    fail_job(idle_stack, "image-old", now - timedelta(hours=3))
    fail_job(idle_stack, "image-new", now - timedelta(minutes=5))
    result = invoke(idle_stack, "jobs", "requeue", "--all", "--older-than", "1h")
    assert result.exit_code == 0, result.output
    assert "image-old: dropped" in result.output and "image-new" not in result.output


def test_reprocess_needs_exactly_one_selection(idle_stack):
    assert invoke(idle_stack, "images", "reprocess").exit_code == 2
    assert invoke(idle_stack, "images", "reprocess", "abc", "--all").exit_code == 2


def test_reprocess_renders_new_variants_after_settings_change(make_stack):
    stack = make_stack(IMAGE_VARIANTS="thumb:32")
    stack.start_worker()
    image_id = upload(stack)
    assert set(wait_for_status(stack.client, image_id, "done")["variants"]) == {"thumb"}
    stack.stop()
    stack.workers.clear()

    # The operator widens IMAGE_VARIANTS, restarts the workers and reprocesses what is done.
    stack.env["IMAGE_VARIANTS"] = "thumb:32,small:40"
    stack.app.config["IMAGE_VARIANTS"] = "thumb:32,small:40"
    stack.start_worker()
    result = invoke(stack, "images", "reprocess", "--status", "done")
    assert result.exit_code == 0, result.output
    assert f"{image_id}: requeued" in result.output

    def has_both():
        image = stack.client.get(f"/api/images/{image_id}").get_json()
        return image["status"] == "done" and set(image["variants"]) == {"thumb", "small"}

    wait_until(has_both, 60, what="reprocessed variants")


def test_requeue_of_an_unknown_job_says_so_and_exits_1(idle_stack):
    result = invoke(idle_stack, "jobs", "requeue", "image-nosuchjob")
    assert result.exit_code == 1, result.output
    assert "image-nosuchjob: expired" in result.output and "1 of 1 not found" in result.output


def test_requeue_of_a_job_named_twice_requeues_it_once_in_plain_words(idle_stack):
    image_id = upload(idle_stack)
    job_id = f"image-{image_id}"
    with idle_stack.app.app_context():
        failed_registry().add(Job.fetch(job_id, connection=idle_stack.redis), ttl=3600)
        idle_stack.redis.hset(f"rq:job:{job_id}", "status", JobStatus.FAILED.value)
    result = invoke(idle_stack, "jobs", "requeue", job_id, job_id, "image-other")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert f"{job_id}: requeued" in lines and "image-other: expired: Redis no longer has this job" in lines
    assert sum(line.startswith(job_id) for line in lines) == 1


def test_requeue_reports_a_job_that_is_not_failed_by_its_status_word(idle_stack):
    job_id = f"image-{upload(idle_stack)}"
    result = invoke(idle_stack, "jobs", "requeue", job_id)
    assert f"{job_id}: skipped: the job is queued, not failed" in result.output
    assert "JobStatus" not in result.output


def test_queue_stats_without_a_reachable_redis_fails_instead_of_answering(idle_stack):
    # As a CLI pointed at a Redis where no stack runs: a dead loopback port, with a password not to print.
    dead = "redis://:hunter2@127.0.0.1:9/0"
    idle_stack.app.config["REDIS_URL"] = dead
    idle_stack.app.extensions["pixline.redis"] = redis.Redis.from_url(dead, socket_connect_timeout=1)
    for command in (("queue", "stats"), ("jobs", "failed")):
        result = invoke(idle_stack, *command)
        assert result.exit_code == 1, result.output
        assert "cannot reach Redis at redis://:***@127.0.0.1:9/0" in result.stderr
        assert "hunter2" not in result.output and "No failed jobs" not in result.output


def fail_image_job(stack, image_id: str) -> None:
    """Put an uploaded image's queued job in the failed registry, as a job that failed for good."""
    job_id = f"image-{image_id}"
    with stack.app.app_context():
        failed_registry().add(Job.fetch(job_id, connection=stack.redis), ttl=3600)
        stack.redis.hset(f"rq:job:{job_id}", "status", JobStatus.FAILED.value)
        stack.redis.lrem("rq:queue:images", 0, job_id)
        db.session.get(Image, image_id).status = "failed"
        db.session.commit()


def test_requeue_by_the_image_id_the_api_shows_requeues_its_job(idle_stack):
    image_id = upload(idle_stack)
    fail_image_job(idle_stack, image_id)
    result = invoke(idle_stack, "jobs", "requeue", image_id)
    assert result.exit_code == 0, result.output
    assert f"{image_id}: requeued" in result.output.splitlines()
    assert idle_stack.client.get(f"/api/images/{image_id}").get_json()["status"] == "queued"
    assert f"image-{image_id}".encode() in idle_stack.redis.lrange("rq:queue:images", 0, -1)


def test_requeue_by_image_id_requeues_a_failed_image_whose_job_redis_forgot(idle_stack):
    image_id = upload(idle_stack)
    fail_image_job(idle_stack, image_id)
    idle_stack.redis.delete(f"rq:job:{image_id}", f"rq:job:image-{image_id}")
    result = invoke(idle_stack, "jobs", "requeue", image_id)
    assert result.exit_code == 0, result.output
    assert f"{image_id}: requeued (its failed job had expired)" in result.output.splitlines()
    assert idle_stack.client.get(f"/api/images/{image_id}").get_json()["status"] == "queued"


def test_requeue_of_an_unknown_image_id_says_not_found_and_exits_1(idle_stack):
    unknown = "0123456789abcdef0123456789abcdef"
    result = invoke(idle_stack, "jobs", "requeue", unknown)
    assert result.exit_code == 1, result.output
    assert f"{unknown}: not found: no image has this id" in result.output.splitlines()
    assert "1 of 1 not found" in result.output
