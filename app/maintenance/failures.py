"""RQ's failed-job registry, seen through Pixline's eyes: list and requeue."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rq import Queue
from rq.job import JobStatus
from rq.registry import FailedJobRegistry

from app.extensions import db, redis_queue
from app.models import Image, ImageStatus
from app.pipeline.jobs import fetch_job, image_id_of
from app.pipeline.requeue import NOT_DONE, RequeueOutcome, requeue_image


@dataclass(frozen=True)
class FailedJob:
    """A failed job as the CLI lists it."""

    job_id: str
    image_id: str | None
    error: str
    failed_at: datetime | None


def failed_registry() -> FailedJobRegistry:
    """The images queue's failed-job registry."""
    queue = redis_queue.queue
    return FailedJobRegistry(queue=queue)


def list_failed(limit: int | None = None) -> list[FailedJob]:
    """The failed jobs, most recent first."""
    registry = failed_registry()
    job_ids = registry.get_job_ids()
    job_ids.reverse()
    failed = []
    for job_id in job_ids[:limit] if limit else job_ids:
        job = fetch_job(job_id)
        if job is None:
            continue
        image_id = image_id_of(job_id)
        image = db.session.get(Image, image_id) if image_id else None
        summary = _error_summary(image, job)
        failed.append(FailedJob(job_id, image_id, summary, job.ended_at))
    return failed


def requeue(job_id: str) -> str:
    """Requeue one failed job with a fresh retry budget; returns what happened, in words."""
    job = fetch_job(job_id)
    if job is None:
        failed_registry().remove(job_id)
        return _requeue_forgotten(image_id_of(job_id))
    if job.get_status(refresh=False) != JobStatus.FAILED:
        return f"skipped: the job is {job.get_status(refresh=False).value}, not failed"
    image_id = image_id_of(job_id)
    image = db.session.get(Image, image_id) if image_id else None
    if image is None or image.image_status is ImageStatus.DELETING:
        job.delete()
        return "dropped: its image no longer exists"
    outcome = requeue_image(image_id, "requeued from the failed-job registry", NOT_DONE)
    if outcome is RequeueOutcome.REFUSED:
        # Done meanwhile (the reconciler or a retry got there first): the failed attempt has nothing left to do.
        job.delete()
        return f"dropped: its image is already {db.session.get(Image, image_id).status}"
    return (
        "requeued"
        if outcome is RequeueOutcome.REQUEUED
        else "queued (Redis unavailable: the reconciler will enqueue it)"
    )


def _requeue_forgotten(image_id: str | None) -> str:
    """A failed image whose job Redis no longer has (past FAILURE_TTL) is requeued all the same."""
    image = db.session.get(Image, image_id) if image_id else None
    if image is None:
        return "expired: Redis no longer has this job"
    if image.image_status is not ImageStatus.FAILED:
        return f"skipped: its image is {image.status}, not failed"
    outcome = requeue_image(image_id, "requeued after its failed job expired", NOT_DONE)
    return "requeued (its failed job had expired)" if outcome is not RequeueOutcome.REFUSED else "skipped: not failed"


def requeue_all(older_than: timedelta | None = None) -> dict[str, str]:
    """Requeue every failed job (or those failed more than older_than ago); returns job id → outcome."""
    return {job_id: requeue(job_id) for job_id in failed_job_ids(older_than)}


def failed_job_ids(older_than: timedelta | None = None, queue: Queue | None = None) -> list[str]:
    """Ids in the failed registry, oldest first; with older_than, those that failed longer ago (or were forgotten)."""
    queue = queue or redis_queue.queue
    job_ids = FailedJobRegistry(queue=queue).get_job_ids()
    if older_than is None:
        return job_ids
    cutoff = datetime.now(UTC) - older_than
    jobs = queue.job_class.fetch_many(job_ids, connection=queue.connection, serializer=queue.serializer)
    return [job_id for job_id, job in zip(job_ids, jobs, strict=True) if not _failed_after(job, cutoff)]


def purge(job_id: str, queue: Queue | None = None) -> None:
    """Remove a job from the failed registry and delete it from Redis."""
    queue = queue or redis_queue.queue
    FailedJobRegistry(queue=queue).remove(job_id)
    job = queue.fetch_job(job_id)
    if job is not None:
        job.delete()


def _failed_after(job, cutoff: datetime) -> bool:
    """Whether a fetched job ended after cutoff (a forgotten job, None, never did)."""
    return job is not None and job.ended_at is not None and job.ended_at.replace(tzinfo=UTC) > cutoff


def _error_summary(image: Image | None, job) -> str:
    """The image's recorded error, else the last line of the job's traceback."""
    if image is not None and image.error_code:
        return f"{image.error_code}: {image.error_message}"
    result = job.latest_result()
    traceback = (result.exc_string if result else None) or ""
    lines = [line for line in traceback.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"
