"""Periodic tasks: the registry, the leased cron scheduler, and the prune task."""

from datetime import UTC, datetime, timedelta

import pytest
import redis
from rq.job import Job, JobStatus

from app.extensions import redis_queue
from app.maintenance import cron, retention, schedule
from app.maintenance.failures import failed_registry


def test_interval_comes_from_a_setting_and_zero_disables():
    task = schedule.PeriodicTask("t", "app.maintenance.retention.prune_jobs", "SOME_INTERVAL")
    assert task.interval_seconds({"SOME_INTERVAL": 42}) == 42
    assert task.interval_seconds({}) == 0


def test_scheduler_skips_disabled_tasks_and_enqueues_json_jobs(app):
    app.config["PRUNE_INTERVAL"] = 0
    with app.app_context():
        assert [job.name for job in cron.build_scheduler(app).get_jobs()] == [
            task.name for task in schedule.periodic_tasks() if task.interval_seconds(app.config) > 0
        ]
        app.config["PRUNE_INTERVAL"] = 5
        scheduler = cron.build_scheduler(app)
        scheduler.enqueue_jobs()
        queue = redis_queue.maintenance_queue
        job = queue.jobs[0]
        # Read back with the JSON serializer, as the workers do (RQ's own CronJob would have pickled it).
        assert job.func_name == "app.maintenance.retention.prune_jobs" and job.timeout == schedule.DEFAULT_TASK_TIMEOUT


@pytest.mark.integration
def test_only_the_lease_holder_enqueues_and_a_standby_takes_over(app, redis_url):
    connection = redis.Redis.from_url(redis_url)
    first = cron.LeasedCronScheduler(connection, name="first")
    second = cron.LeasedCronScheduler(connection, name="second")
    assert first.holds_lease() and first.holds_lease()
    assert not second.holds_lease()
    first.register_birth()
    first.register_death()
    assert second.holds_lease()


def test_prune_purges_failed_jobs_past_retention(app):
    app.config["FAILURE_TTL"] = 3600
    with app.app_context():
        queue = redis_queue.queue
        for job_id, age in (("image-old", timedelta(hours=2)), ("image-new", timedelta(minutes=1))):
            job = Job.create("app.pipeline.jobs.process_image", args=("x",), id=job_id, connection=queue.connection,
                             serializer=queue.serializer, origin=queue.name)  # fmt: skip
            job.ended_at = datetime.now(UTC) - age
            job._status = JobStatus.FAILED
            job.save()
            failed_registry().add(job, ttl=7200)
        assert retention.prune_jobs()["images"] == 1
        assert failed_registry().get_job_ids() == ["image-new"]
