"""Periodic maintenance: the registry of periodic tasks the cron process enqueues, and the built-in tasks.

Another module adds a task with one line at its own top level (any module create_app imports: the cron process
builds the app before it reads the registry) or at the bottom of this one, naming the function by its dotted
path:

    register_periodic("reconcile", "app.reconcile.reconcile_all", "RECONCILE_INTERVAL")

The interval is seconds, or the name of a config setting holding seconds; 0 or a missing setting disables the
task. Tasks run as ordinary RQ jobs on the maintenance queue (every worker listens to it before the images
queue), with the app context the worker built; they must be idempotent, since a task may run twice.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from rq import Queue
from rq.registry import clean_registries
from rq.serializers import JSONSerializer

from app import failures
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
    """Drop expired entries from RQ's registries, and failed jobs kept past FAILURE_TTL (after a TTL change)."""
    retention = timedelta(seconds=current_app.config["FAILURE_TTL"])
    pruned = {}
    for queue in (redis_queue.queue, maintenance_queue()):
        clean_registries(queue)
        old = failures.failed_job_ids(retention, queue)
        for job_id in old:
            failures.purge(job_id, queue)
        pruned[queue.name] = len(old)
    log.info("pruned failed jobs past retention: %s", pruned)
    return pruned


# --- the schedule -------------------------------------------------------------------------------------------

register_periodic("prune-jobs", "app.maintenance.prune_jobs", "PRUNE_INTERVAL")
