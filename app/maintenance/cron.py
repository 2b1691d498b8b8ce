"""The cron process: `python -m app.maintenance.cron` enqueues the tasks of app.maintenance.schedule (RQ CronScheduler).

Run one per deployment. A second one is harmless: only the holder of a Redis lease enqueues, the others wait
as standbys and take over within LEASE_SECONDS when the holder dies.
"""

import argparse
import contextlib
import logging
import os
import socket

from redis import Redis
from redis.exceptions import LockError
from redis.lock import Lock
from rq import Queue
from rq import cron_job_registry as rq_cron_job_registry
from rq.cron import CronJob, CronScheduler
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.utils import import_attribute

from app import create_app
from app.extensions import redis_queue
from app.maintenance.schedule import PeriodicTask, periodic_tasks
from config import exit_on_config_error

log = logging.getLogger("pixline.cron")

LEASE_KEY = "pixline:cron:lease"
# Longer than CronScheduler's longest sleep (60 s), so a live holder always renews in time.
LEASE_SECONDS = 150


class JSONCronJob(CronJob):
    """A CronJob that enqueues with the JSON serializer our workers read (RQ's CronJob always pickles)."""

    def enqueue(self, connection: Redis) -> Job:
        """Enqueue the task and record it in RQ's cron history, as CronJob.enqueue does."""
        queue = Queue(self.queue_name, connection=connection, serializer=JSONSerializer)
        with connection.pipeline() as pipeline:
            job = queue.enqueue(self.func, args=self.args, kwargs=self.kwargs, **self.job_options, pipeline=pipeline)
            pipeline.zadd(self.job_history_key, {job.id: job.enqueued_at.timestamp()})
            pipeline.zremrangebyrank(self.job_history_key, 0, -(DEFAULT_CRON_JOB_HISTORY_LIMIT + 1))
            pipeline.expire(self.job_history_key, DEFAULT_CRON_JOB_HISTORY_TTL)
            rq_cron_job_registry.add(self.name, pipeline, enqueue_timestamp=job.enqueued_at.timestamp())
            pipeline.execute()
        log.info("enqueued periodic task %s as job %s", self.name, job.id)
        return job


class LeasedCronScheduler(CronScheduler):
    """RQ's CronScheduler, enqueueing only while it holds the deployment-wide lease."""

    def __init__(self, connection: Redis, lease_key: str = LEASE_KEY, **kwargs):
        super().__init__(connection, **kwargs)
        self.lease = Lock(connection, lease_key, timeout=LEASE_SECONDS, blocking=False, thread_local=False)

    def add(self, task: PeriodicTask, queue_name: str, interval: int) -> CronJob:
        """Schedule one periodic task."""
        cron_job = JSONCronJob(
            queue_name=queue_name,
            func=import_attribute(task.func_path),
            interval=interval,
            job_timeout=task.timeout,
            name=task.name,
        )
        self._cron_jobs.append(cron_job)
        return cron_job

    def holds_lease(self) -> bool:
        """Take or renew the lease; whether this scheduler is the one that enqueues."""
        if self.lease.owned():
            try:
                self.lease.reacquire()
                return True
            except LockError:
                # It expired since owned() looked (this process stalled past LEASE_SECONDS): take it anew if free.
                log.warning("cron lease %s expired before it was renewed; taking it again if free", self.lease.name)
        return self.lease.acquire()

    def enqueue_jobs(self) -> list[CronJob]:
        """Enqueue the due tasks, if this scheduler holds the lease."""
        if not self.holds_lease():
            return []
        return super().enqueue_jobs()

    def register_death(self, pipeline=None) -> None:
        """Hand the lease back on the way out, so a standby takes over at once."""
        if self.lease.owned():
            with contextlib.suppress(LockError):  # it expired meanwhile: nothing left to hand back
                self.lease.release()
        super().register_death(pipeline)


def build_scheduler(app, name: str = "") -> LeasedCronScheduler:
    """A scheduler holding every enabled periodic task of app.maintenance.schedule."""
    name = name or f"pixline-cron-{socket.gethostname()}-{os.getpid()}"
    queue_name = app.config["MAINTENANCE_QUEUE"]
    # One lease per maintenance queue: deployments sharing a Redis under different queue names do not block each other.
    scheduler = LeasedCronScheduler(redis_queue.connection, lease_key=f"{LEASE_KEY}:{queue_name}", name=name)
    for task in periodic_tasks():
        interval = task.interval_seconds(app.config)
        if interval <= 0:
            log.info("periodic task %s is disabled (interval %r)", task.name, task.interval)
            continue
        scheduler.add(task, queue_name, interval)
        log.info("periodic task %s: %s every %s s", task.name, task.func_path, interval)
    return scheduler


def main() -> None:
    """Build the app once and enqueue periodic tasks until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="", help="Scheduler name (default: host and pid).")
    args = parser.parse_args()
    with exit_on_config_error("pixline cron"):
        app = create_app()
    with app.app_context():
        scheduler = build_scheduler(app, args.name)
        scheduler.start()


if __name__ == "__main__":
    main()
