"""Sending an image through processing again: one function for the API, the pages, the CLI and the failed jobs."""

import enum
import logging

from redis.exceptions import RedisError

from app.models import ImageStatus
from app.pipeline import records
from app.pipeline.jobs import enqueue_processing

log = logging.getLogger(__name__)

# Statuses each caller may requeue from; never `deleting`, and never `done` unless an operator asks to reprocess.
RETRYABLE = (ImageStatus.FAILED.value,)
# Reprocessing leaves an image alone while it has a job in hand: that job renders the current settings anyway.
REPROCESSABLE = (ImageStatus.DONE.value, ImageStatus.FAILED.value)
NOT_DONE = (ImageStatus.QUEUED.value, ImageStatus.PROCESSING.value, ImageStatus.FAILED.value)


class RequeueOutcome(enum.StrEnum):
    """What requeue_image did."""

    REQUEUED = "requeued"  # marked queued and enqueued
    DEFERRED = "deferred"  # marked queued; Redis was down, so the reconciler enqueues it
    REFUSED = "refused"  # not in one of the allowed statuses (or gone): nothing changed


def requeue_image(image_id: str, reason: str, allowed_statuses: tuple[str, ...]) -> RequeueOutcome:
    """Mark the image queued, only from allowed_statuses, then enqueue its job."""
    # Row first, conditionally: a job enqueued before the mark could finish first and be overwritten by `queued`.
    if not records.requeue_from(image_id, reason, allowed_statuses):
        return RequeueOutcome.REFUSED
    try:
        enqueue_processing(image_id)
    except RedisError as error:
        log.warning("image %s queued but not enqueued (Redis: %s); the reconciler will enqueue it", image_id, error)
        return RequeueOutcome.DEFERRED
    return RequeueOutcome.REQUEUED
