"""Periodic maintenance: the registry of periodic tasks the cron process enqueues, and the built-in tasks.

Another module adds a task with one line (here, at the bottom, or from its own code before the cron process
starts), naming the function by its dotted path so nothing is imported until the cron process needs it:

    register_periodic("reconcile", "app.reconcile.reconcile_all", "RECONCILE_INTERVAL")

The interval is seconds, or the name of a config setting holding seconds; 0 or a missing setting disables the
task. Tasks run as ordinary RQ jobs on the maintenance queue (every worker listens to it before the images
queue), with the app context the worker built; they must be idempotent, since a task may run twice.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from rq import Queue
from rq.registry import FailedJobRegistry, FinishedJobRegistry, clean_registries
from rq.serializers import JSONSerializer

from app.extensions import redis_queue

log = logging.getLogger(__name__)

DEFAULT_TASK_TIMEOUT = 600


@dataclass(frozen=True)
class PeriodicTask:
    """A function the cron process enqueues every so many seconds."""

    name: str
    func_path: str
    interval: int | str
    timeout: int = DEFAULT_TASK_TIMEOUT

    def interval_seconds(self, config: Mapping) -> int:
        """Seconds between runs under this config; 0 means disabled."""
        if isinstance(self.interval, int):
            return self.interval
        return int(config.get(self.interval) or 0)


_tasks: dict[str, PeriodicTask] = {}


def register_periodic(
    name: str, func_path: str, interval_seconds: int | str, timeout: int = DEFAULT_TASK_TIMEOUT
) -> PeriodicTask:
    """Add (or replace) the periodic task called name: func_path every interval_seconds (or config key)."""
    task = PeriodicTask(name, func_path, interval_seconds, timeout)
    _tasks[name] = task
    return task


def periodic_tasks() -> list[PeriodicTask]:
    """Every registered task, in registration order."""
    return list(_tasks.values())


def maintenance_queue() -> Queue:
    """The queue periodic tasks run on (JSON-serialized, like the images queue)."""
    config = current_app.config
    return Queue(config["MAINTENANCE_QUEUE"], connection=redis_queue.connection, serializer=JSONSerializer)


# --- built-in tasks ---------------------------------------------------------------------------------------


def prune_jobs() -> dict[str, int]:
    """Drop expired entries from RQ's registries and failed jobs kept past FAILURE_TTL."""
    removed = {}
    for queue in (redis_queue.queue, maintenance_queue()):
        before = _registry_sizes(queue)
        clean_registries(queue)
        failed_cutoff = timedelta(seconds=current_app.config["FAILURE_TTL"])
        purge_failed_older_than(queue, failed_cutoff)
        after = _registry_sizes(queue)
        removed[queue.name] = sum(before) - sum(after)
    log.info("pruned job registries: %s", removed)
    return removed


def purge_failed_older_than(queue: Queue, age: timedelta) -> list[str]:
    """Delete the failed jobs of queue that failed more than age ago (or that Redis forgot); returns their ids."""
    registry = FailedJobRegistry(queue=queue)
    cutoff = datetime.now(UTC) - age
    job_ids = registry.get_job_ids()
    jobs = queue.job_class.fetch_many(job_ids, connection=queue.connection, serializer=queue.serializer)
    purged = []
    for job_id, job in zip(job_ids, jobs, strict=True):
        if job is not None and job.ended_at and job.ended_at.replace(tzinfo=UTC) > cutoff:
            continue
        registry.remove(job or job_id, delete_job=job is not None)
        purged.append(job_id)
    return purged


def _registry_sizes(queue: Queue) -> tuple[int, int]:
    """How many jobs the finished and failed registries of queue name."""
    return FinishedJobRegistry(queue=queue).count, FailedJobRegistry(queue=queue).count


# --- the schedule -------------------------------------------------------------------------------------------

register_periodic("prune-jobs", "app.maintenance.prune_jobs", "PRUNE_INTERVAL")
