"""Repair and retention, run by the cron process or by operators: reconciler, failed jobs, audit, schedule."""


def __getattr__(name: str):
    """`app.maintenance.prune_jobs`, the path periodic jobs enqueued before the package layout name."""
    if name == "prune_jobs":
        from app.maintenance.retention import prune_jobs

        return prune_jobs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
