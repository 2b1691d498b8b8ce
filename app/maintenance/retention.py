"""Retention: RQ's registries pruned of expired entries and of failed jobs kept past FAILURE_TTL."""

import logging
from datetime import timedelta

from flask import current_app
from rq.registry import clean_registries

from app.extensions import redis_queue
from app.maintenance import failures

log = logging.getLogger(__name__)


def prune_jobs() -> dict[str, int]:
    """Drop expired entries from RQ's registries, and failed jobs kept past FAILURE_TTL (after a TTL change)."""
    retention = timedelta(seconds=current_app.config["FAILURE_TTL"])
    pruned = {}
    for queue in (redis_queue.queue, redis_queue.maintenance_queue):
        clean_registries(queue)
        old = failures.failed_job_ids(retention, queue)
        for job_id in old:
            failures.purge(job_id, queue)
        pruned[queue.name] = len(old)
    log.info("pruned failed jobs past retention: %s", pruned)
    return pruned
