"""The periodic schedule: every task the cron process enqueues, in one explicit list.

A task names its function by dotted path (RQ stores that path with each job), and its interval in seconds or as
the name of a config setting holding seconds; 0 or a missing setting disables it. Tasks run as ordinary RQ jobs
on the maintenance queue (every worker listens to it before the images queue), with the app context the worker
built; they must be idempotent, since a task may run twice.
"""

from collections.abc import Mapping
from dataclasses import dataclass

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


PERIODIC_TASKS: tuple[PeriodicTask, ...] = (
    PeriodicTask("prune-jobs", "app.maintenance.retention.prune_jobs", "PRUNE_INTERVAL"),
    PeriodicTask("reconcile", "app.maintenance.reconcile.reconcile_all", "RECONCILE_INTERVAL"),
    PeriodicTask("cleanup-uploads", "app.pipeline.direct.cleanup_expired_uploads", "UPLOAD_CLEANUP_INTERVAL"),
    PeriodicTask("webhooks-reconcile", "app.pipeline.webhooks.delivery.resend_overdue", "WEBHOOK_RECONCILE_INTERVAL"),
)


def periodic_tasks() -> list[PeriodicTask]:
    """Every task of the schedule, in order."""
    return list(PERIODIC_TASKS)
