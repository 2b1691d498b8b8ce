"""The reconciler: the database is the source of truth, so every unfinished row gets a live RQ job again.

A row `queued` or `processing` needs a live job. The reconciler finds the rows whose job is missing (Redis
forgot it, or the enqueue after the upload failed), finished or failed without the row saying so (a work horse
killed after its last retry), or abandoned (started by a worker that stopped heartbeating: killed, or its host
gone), and enqueues them again. It runs every RECONCILE_INTERVAL seconds as a periodic task of the cron process
(app.maintenance.schedule), and on demand as `flask images reconcile`. It also finishes the deletes a storage outage
interrupted (rows left `deleting`).
"""

import enum
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from redis.exceptions import LockNotOwnedError
from redis.lock import Lock
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select

from app.exceptions import StorageUnavailable
from app.extensions import db, redis_queue
from app.models import Image, ImageEvent, ImageStatus, utcnow
from app.pipeline import deletion, records
from app.pipeline.jobs import enqueue_processing, job_id_for

log = logging.getLogger(__name__)

LOCK_KEY = "pixline:reconcile:lock"
LOCK_SECONDS = 300
BATCH = 1000
# The error code of the history entry written each time a job ended without recording it (its worker died).
JOB_LOST = "job_lost"
WAITING_STATUSES = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


class Finding(enum.StrEnum):
    """Why a row's job is not live."""

    MISSING = "missing"  # Redis has no job for the image
    ABANDONED = "abandoned"  # started by a worker whose heartbeat stopped
    FAILED = "failed"  # failed or stopped, but the row was never told
    FINISHED = "finished"  # finished, but the row is not done
    STRANDED = "stranded"  # queued, but in no queue: popped by a worker that died before starting it
    DELETING = "deleting"  # not a job problem: a delete that storage interrupted, left for us to finish


@dataclass(frozen=True)
class Outcome:
    """What the reconciler did about one row."""

    image_id: str
    finding: Finding
    action: str  # "requeued", "gave up", "deleted" or "skipped"


def reconcile_all() -> list[Outcome]:
    """Periodic task: reconcile once, unless another reconciler holds the lock right now."""
    return reconcile(wait_seconds=0) or []


def reconcile(wait_seconds: float = 10) -> list[Outcome] | None:
    """Give every unfinished row without a live job a new one; None if another run held the lock throughout."""
    lock = Lock(redis_queue.connection, LOCK_KEY, timeout=LOCK_SECONDS, blocking_timeout=wait_seconds)
    if not lock.acquire(blocking=wait_seconds > 0):
        log.info("another reconciler is running; skipping this pass")
        return None
    try:
        outcomes = settle_all(find_unsettled(), lock)
        outcomes += finish_deletions()
    finally:
        release(lock)
    if outcomes:
        log.warning("reconciled %d images: %s", len(outcomes), [(o.image_id, o.finding, o.action) for o in outcomes])
    return outcomes


def settle_all(unsettled: list[tuple[str, Finding]], lock: Lock) -> list[Outcome]:
    """Settle each row, renewing the lock before each one; stop if it expired (another pass may be running)."""
    outcomes = []
    for done, (image_id, finding) in enumerate(unsettled):
        try:
            lock.reacquire()
        except LockNotOwnedError:
            log.warning(
                "reconcile lock expired after %d of %d images; the next pass does the rest", done, len(unsettled)
            )
            break
        outcomes.append(settle(image_id, finding))
    return outcomes


def release(lock: Lock) -> None:
    """Release the lock; if it already expired, say so rather than fail a pass whose work is done."""
    try:
        lock.release()
    except LockNotOwnedError:
        log.warning("the reconcile pass outlived its %d s lock", LOCK_SECONDS)


def find_unsettled() -> list[tuple[str, Finding]]:
    """The unfinished rows whose job is not live, with what is wrong with it (oldest first)."""
    config = current_app.config
    grace_cutoff = utcnow() - timedelta(seconds=config["RECONCILE_GRACE_SECONDS"])
    rows = db.session.execute(
        select(Image.id, Image.updated_at)
        .where(Image.status.in_((ImageStatus.QUEUED.value, ImageStatus.PROCESSING.value)))
        .order_by(Image.updated_at)
        .limit(BATCH)
    ).all()
    db.session.rollback()  # end the read transaction; rows change under us and we re-check before writing
    jobs = Job.fetch_many(
        [job_id_for(image_id) for image_id, _ in rows],
        connection=redis_queue.connection,
        serializer=redis_queue.queue.serializer,
    )
    # Read after the jobs; a job popped in between looks stranded here, and settle checks it again.
    waiting = set(redis_queue.queue.get_job_ids()) if rows else set()
    unsettled = []
    for (image_id, updated_at), job in zip(rows, jobs, strict=True):
        finding = diagnose(job, config["ABANDONED_AFTER_SECONDS"], waiting)
        # A fresh row may be between its commit and its enqueue; only an abandoned job is judged by heartbeat.
        if finding is not None and (finding is Finding.ABANDONED or updated_at < grace_cutoff):
            unsettled.append((image_id, finding))
    return unsettled


def diagnose(job: Job | None, abandoned_after: float, waiting: set[str]) -> Finding | None:
    """What is wrong with an unfinished row's job, or None while it is live (waiting: the ids in the queue)."""
    if job is None:
        return Finding.MISSING
    status = job.get_status(refresh=False)
    if status == JobStatus.QUEUED and job.id not in waiting:
        # Workers on several queues pop with BLPOP (no intermediate queue): a worker killed right after
        # the pop takes the job out of every list while it still says queued. RQ never recovers that.
        return Finding.STRANDED
    if status in WAITING_STATUSES:
        return None
    if status == JobStatus.STARTED:
        return Finding.ABANDONED if is_abandoned(job, abandoned_after) else None
    return Finding.FINISHED if status == JobStatus.FINISHED else Finding.FAILED


def is_abandoned(job: Job, abandoned_after: float) -> bool:
    """Whether a started job's worker stopped heartbeating (it beats every WORKER_MONITOR_SECONDS)."""
    beat = job.last_heartbeat or job.started_at
    if beat is None:
        return True
    age = datetime.now(UTC) - beat.replace(tzinfo=UTC)
    return age > timedelta(seconds=abandoned_after)


def settle(image_id: str, finding: Finding) -> Outcome:
    """Requeue one row with a fresh job, or fail it if workers keep dying on it."""
    if finding is Finding.STRANDED and not is_stranded(image_id):
        return Outcome(image_id, finding, "skipped")
    lost_before = lost_count(image_id)
    is_worker_death = finding in (Finding.ABANDONED, Finding.FAILED)
    if is_worker_death and lost_before + 1 >= current_app.config["RECONCILE_MAX_LOST"]:
        message = f"gave up: the worker processing it died {lost_before + 1} times"
        changed = records.fail_unfinished(image_id, "processing_error", message)
        discard_job(image_id)
        return Outcome(image_id, finding, "gave up" if changed else "skipped")
    reason = f"reconciler: job {finding.value}"
    if not records.requeue_unfinished(image_id, reason, JOB_LOST if is_worker_death else None):
        return Outcome(image_id, finding, "skipped")
    if finding in (Finding.ABANDONED, Finding.STRANDED):
        discard_job(image_id)
    enqueue_processing(image_id)
    return Outcome(image_id, finding, "requeued")


def finish_deletions() -> list[Outcome]:
    """Finish the deletes a storage outage interrupted (rows left `deleting`), oldest first."""
    cutoff = utcnow() - timedelta(seconds=current_app.config["RECONCILE_GRACE_SECONDS"])
    rows = db.session.execute(
        select(Image.id, Image.original_key)
        .where(Image.status == ImageStatus.DELETING.value, Image.updated_at < cutoff)
        .order_by(Image.updated_at)
        .limit(BATCH)
    ).all()
    outcomes = []
    for image_id, original in rows:
        try:
            deletion.finish_deletion(image_id, original)
        except StorageUnavailable as error:
            db.session.rollback()
            log.warning("could not finish deleting image %s (%s); the next pass tries again", image_id, error)
            outcomes.append(Outcome(image_id, Finding.DELETING, "skipped"))
            # Storage is still down: the other rows would fail the same way.
            break
        outcomes.append(Outcome(image_id, Finding.DELETING, "deleted"))
    db.session.rollback()
    return outcomes


def is_stranded(image_id: str) -> bool:
    """Whether the image's job still says queued and is still in no queue (checked again, just before acting)."""
    queue = redis_queue.queue
    job_id = job_id_for(image_id)
    status = queue.connection.hget(Job.key_for(job_id), "status")
    return status == JobStatus.QUEUED.value.encode() and queue.connection.lpos(queue.key, job_id) is None


def lost_count(image_id: str) -> int:
    """How many times a worker has died holding this image (as the reconciler recorded it)."""
    return db.session.scalar(
        select(func.count(ImageEvent.id)).where(ImageEvent.image_id == image_id, ImageEvent.error_code == JOB_LOST)
    )


def discard_job(image_id: str) -> None:
    """Delete an image's job and its entries in the started registry (its worker is gone)."""
    queue = redis_queue.queue
    job = Job.fetch_many([job_id_for(image_id)], connection=queue.connection, serializer=queue.serializer)[0]
    if job is None:
        return
    StartedJobRegistry(queue=queue).remove_executions(job)
    job.delete(remove_from_queue=True)
