"""How the queues are doing: jobs per registry, oldest queued job, workers — read from Redis."""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from rq import Queue, Worker

from app.extensions import redis_queue


@dataclass(frozen=True)
class QueueState:
    """One queue's job counts by registry, and how long its oldest queued job has waited."""

    name: str
    registries: dict[str, int]
    oldest_job_age: float | None

    @property
    def depth(self) -> int:
        """Jobs waiting to run."""
        return self.registries["queued"]


@dataclass(frozen=True)
class QueueStats:
    """Every Pixline queue, and the workers serving them."""

    queues: list[QueueState]
    workers: int
    busy_workers: int
    worker_names: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """A JSON-ready view, for scripts."""
        return {
            "workers": self.workers,
            "busy_workers": self.busy_workers,
            "queues": {
                queue.name: {**queue.registries, "oldest_job_age_seconds": queue.oldest_job_age}
                for queue in self.queues
            },
        }


def queue_state(queue: Queue, now: datetime | None = None) -> QueueState:
    """Counts of one queue's registries and its oldest queued job's age in seconds."""
    registries = {
        "queued": queue.count,
        "started": queue.started_job_registry.count,
        "scheduled": queue.scheduled_job_registry.count,
        "deferred": queue.deferred_job_registry.count,
        "failed": queue.failed_job_registry.count,
        "finished": queue.finished_job_registry.count,
    }
    return QueueState(queue.name, registries, oldest_job_age(queue, now))


def oldest_job_age(queue: Queue, now: datetime | None = None) -> float | None:
    """Seconds the job at the head of the queue has waited, or None when the queue is empty."""
    head = queue.get_job_ids(offset=0, length=1)
    if not head:
        return None
    job = queue.fetch_job(head[0])
    if job is None or job.enqueued_at is None:
        return None
    now = now or datetime.now(UTC)
    return max(0.0, (now - job.enqueued_at.replace(tzinfo=UTC)).total_seconds())


def pixline_queues() -> list[Queue]:
    """The images queue and the maintenance queue."""
    return [redis_queue.queue, redis_queue.maintenance_queue]


def queue_stats() -> QueueStats:
    """Every Pixline queue's state and the workers alive."""
    workers = Worker.all(connection=redis_queue.connection)
    busy = sum(1 for worker in workers if worker.get_state() == "busy")
    return QueueStats(
        queues=[queue_state(queue) for queue in pixline_queues()],
        workers=len(workers),
        busy_workers=busy,
        worker_names=sorted(worker.name for worker in workers),
    )
