"""RQ entry points and the enqueue helpers: turning an image id into variants, with retries."""

import logging
import random
import time
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from rq import Callback, Retry
from rq.command import send_stop_job_command
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.timeouts import JobTimeoutException
from sqlalchemy import update

from app.exceptions import InvalidImage, PixlineError, ProcessingTimeout
from app.extensions import db, redis_queue
from app.imaging import Rendered, render_variants
from app.imaging.errors import too_large
from app.imaging.variants import parse_variant_specs
from app.models import Image, ImageStatus
from app.pipeline import records
from app.pipeline.originals import read_original
from app.storage import Storage, get_storage, variant_key

log = logging.getLogger(__name__)

LIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
# A deletion waits this long for the image's running job to be stopped (its work horse killed: milliseconds) before
# it deletes the files, so the job cannot write one after them; past it the job's own checks keep it from writing.
STOP_WAIT_SECONDS = 5
STOP_POLL_SECONDS = 0.05


def job_id_for(image_id: str) -> str:
    """The one RQ job id an image ever has, so it never has two live jobs."""
    return f"image-{image_id}"


def image_id_of(job_id: str) -> str | None:
    """The image id a job id was made from, or None for other jobs."""
    return job_id.removeprefix("image-") if job_id.startswith("image-") else None


def retry_intervals(retry_max: int, base: int, cap: int, rng: random.Random | None = None) -> list[int]:
    """Exponential backoff waits base*2**n, capped, each stretched by up to 25% jitter."""
    rng = rng or random.Random()
    waits = []
    for attempt in range(retry_max):
        wait = min(cap, base * 2**attempt)
        # Jitter only upwards, so the waits still grow and never drop below the schedule.
        waits.append(max(1, round(wait * rng.uniform(1.0, 1.25))))
    return waits


def enqueue_processing(image_id: str) -> Job:
    """Queue processing of an image unless a live job for it already exists."""
    job_id = job_id_for(image_id)
    try:
        # Most images have no job yet: enqueue first and look only on a clash (one round trip less per upload).
        return _enqueue_new(image_id, job_id)
    except DuplicateJobError:
        pass
    existing = fetch_job(job_id)
    if existing is not None:
        if existing.get_status(refresh=False) in LIVE_JOB_STATUSES:
            return existing
        existing.delete()
    try:
        return _enqueue_new(image_id, job_id)
    except DuplicateJobError:
        # Another process enqueued it between our delete and our write: theirs is the live one.
        return fetch_job(job_id)


def _enqueue_new(image_id: str, job_id: str) -> Job:
    """Enqueue the image's job; DuplicateJobError if Redis already has a job with its id."""
    config = current_app.config
    retry = None
    if config["RETRY_MAX"] > 0:
        intervals = retry_intervals(config["RETRY_MAX"], config["RETRY_BASE_SECONDS"], config["RETRY_CAP_SECONDS"])
        retry = Retry(max=config["RETRY_MAX"], interval=intervals)
    return redis_queue.queue.enqueue_call(
        process_image,
        args=(image_id,),
        job_id=job_id,
        timeout=config["JOB_TIMEOUT"],
        result_ttl=config["RESULT_TTL"],
        failure_ttl=config["FAILURE_TTL"],
        retry=retry,
        on_failure=Callback(on_processing_failure),
        description=f"process image {image_id}",
        unique=True,
    )


def fetch_job(job_id: str) -> Job | None:
    """The RQ job with this id, or None if Redis no longer has it."""
    try:
        return Job.fetch(job_id, connection=redis_queue.connection, serializer=redis_queue.queue.serializer)
    except NoSuchJobError:
        return None


def process_image(image_id: str) -> dict[str, Any]:
    """RQ job: render every variant of an image and record them. Safe to run again."""
    if not _claim(image_id):
        log.info("image %s is done or gone; nothing to do", image_id)
        return _skipped(image_id)
    image = db.session.get(Image, image_id)
    records.add_event(image, ImageStatus.PROCESSING)
    records.commit_and_publish(image)

    config = current_app.config
    storage = get_storage()
    try:
        source = read_original(storage, image)
    except InvalidImage:
        # The original went with a delete that happened while this job waited: nothing to do, nothing to fail.
        if not records.is_unfinished(image_id):
            return _skipped(image_id, "deleted while it was processed")
        raise
    rendered = render_variants(
        source,
        parse_variant_specs(config["IMAGE_VARIANTS"]),
        output_format=config["OUTPUT_FORMATS"],
        quality=config["OUTPUT_QUALITY"],
        max_pixels=config["MAX_IMAGE_PIXELS"],
        max_frames=config["MAX_FRAMES"],
        animation=config["ANIMATION"],
        max_animation_pixels=config["MAX_ANIMATION_PIXELS"],
        avif_quality=config["AVIF_QUALITY"],
        avif_speed=config["AVIF_SPEED"],
        gravity=config["CROP_GRAVITY"],
    )
    # Deleted (or finished by another job) while it rendered: write no file that nothing would ever remove.
    if not records.is_unfinished(image_id):
        return _skipped(image_id, "deleted or finished while it was processed")
    keys = store_variants(storage, image_id, rendered)
    # Files first, rows second: a crash in between leaves files a re-run rewrites with the same bytes (the key is
    # their digest) or that mark_done sweeps away, never rows without files.
    if not records.mark_done(image_id, rendered, keys):
        records.discard_unrecorded(image_id, keys.values())
        return _skipped(image_id, "deleted or finished while its files were written")
    return {"image_id": image_id, "variants": [variant.name for variant in rendered.variants]}


def store_variants(storage: Storage, image_id: str, rendered: Rendered) -> dict[tuple[str, str], str]:
    """Save every rendered variant in each of its formats; returns (variant name, format) → key."""
    keys = {}
    for variant in rendered.variants:
        for file in variant.files:
            key = keys[variant.name, file.format] = variant_key(image_id, variant.name, file.extension, file.data)
            storage.save(key, file.data, file.content_type)
    return keys


def _skipped(image_id: str, why: str | None = None) -> dict[str, Any]:
    """The result of a job that found nothing (more) to do: a quiet end, not a failure to retry."""
    if why:
        log.info("image %s %s; its files are not kept", image_id, why)
    return {"image_id": image_id, "skipped": True}


def _claim(image_id: str) -> bool:
    """Move the image to processing and count the attempt, unless it is done or deleted."""
    claimable = (ImageStatus.QUEUED.value, ImageStatus.PROCESSING.value, ImageStatus.FAILED.value)
    result = db.session.execute(
        update(Image)
        .where(Image.id == image_id, Image.status.in_(claimable))
        .values(status=ImageStatus.PROCESSING.value, attempts=Image.attempts + 1)
    )
    db.session.commit()
    return result.rowcount == 1


def on_processing_failure(job: Job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback: stop retrying permanent errors and record the outcome on the row."""
    error = failure_error(job, exc_value)
    is_permanent = error is not None and not error.is_transient
    if is_permanent:
        # RQ reads retries_left right after this callback: zero means no retry, straight to failed.
        job.retries_left = 0
    elif isinstance(error, ProcessingTimeout):
        # One more attempt at most: a hang may be a one-off (a stalled disk, a codec stuck on a lock), but an image
        # that takes too long takes as long again, and each attempt holds a worker for JOB_TIMEOUT.
        job.retries_left = min(job.retries_left or 0, 1)
    image_id = job.args[0] if job.args else None
    if image_id is None:
        return
    will_retry = bool(job.retries_left)
    code = error.code if error else "processing_error"
    message = error.message if error else _describe(exc_type, exc_value)
    try:
        # The job may have died in a flush (IntegrityError, "database is locked", StaleDataError): its session
        # then refuses every statement until rolled back, and the failure would go unrecorded.
        db.session.rollback()
        records.mark_attempt_failed(image_id, code, message, will_retry)
    except Exception:
        # The database may be the thing that failed; the reconciler settles the row later.
        db.session.rollback()
        log.exception("could not record the failure of image %s", image_id)


def failure_error(job: Job, exc_value: BaseException | None) -> PixlineError | None:
    """The coded error an attempt failed with (None: unexpected), timeouts and exhausted memory included."""
    if isinstance(exc_value, PixlineError):
        return exc_value
    if isinstance(exc_value, JobTimeoutException):
        # RQ's own words follow: they say whether the horse's alarm stopped the job or the worker had to kill it.
        return ProcessingTimeout(
            f"Processing took longer than the {job.timeout} s a job may take (JOB_TIMEOUT): {exc_value}"
        )
    if isinstance(exc_value, MemoryError):
        return too_large(exc_value)
    return None


def stop_processing(image_id: str) -> bool:
    """Stop the image's job if a worker is running it, and wait (briefly) until it has; False if none was running."""
    try:
        job = fetch_job(job_id_for(image_id))
        if job is None or job.get_status(refresh=False) != JobStatus.STARTED:
            return False
        send_stop_job_command(redis_queue.connection, job.id, serializer=redis_queue.queue.serializer)
        log.info("stopping the running job of image %s", image_id)
        return _wait_until_stopped(job)
    except (InvalidJobOperation, NoSuchJobError):
        return False  # it ended meanwhile
    except RedisError as error:
        # Without Redis no worker hears the stop; the job finds the image gone when it ends and writes nothing.
        log.warning("could not stop the job of image %s: %s", image_id, error)
        return False


def _wait_until_stopped(job: Job) -> bool:
    """Poll the job until it is no longer running (so nothing it writes outlives the deletion); False past the wait."""
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    while time.monotonic() < deadline:
        if job.get_status(refresh=True) != JobStatus.STARTED:
            return True
        time.sleep(STOP_POLL_SECONDS)
    log.warning("job %s still runs %s s after it was told to stop", job.id, STOP_WAIT_SECONDS)
    return False


def _describe(exc_type, exc_value) -> str:
    """A short, readable summary of an unexpected exception."""
    name = getattr(exc_type, "__name__", "Error")
    return f"{name}: {exc_value}"[:500] if str(exc_value) else name
