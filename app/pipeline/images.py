"""Operator actions on images, for `flask images …`: list, reprocess, delete, and totals."""

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from app.exceptions import StorageUnavailable
from app.extensions import db
from app.models import Image, ImageStatus, Variant
from app.pipeline import deletion
from app.pipeline.requeue import REPROCESSABLE, RequeueOutcome, requeue_image

log = logging.getLogger(__name__)

AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
AGE_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")


def parse_age(text: str) -> timedelta:
    """'90s', '30m', '12h', '7d', '2w' (a bare number is seconds) as a timedelta."""
    match = AGE_PATTERN.match(text)
    if not match:
        raise ValueError(f"{text!r} is not an age like 90s, 30m, 12h, 7d or 2w")
    amount, unit = match.groups()
    return timedelta(seconds=int(amount) * AGE_UNITS[unit or "s"])


def list_images(status: str | None = None, limit: int | None = None) -> list[Image]:
    """Images newest first, optionally of one status."""
    query = select(Image).order_by(Image.created_at.desc(), Image.id.desc())
    if status:
        query = query.where(Image.status == status)
    if limit:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def image_ids(status: str | None = None) -> list[str]:
    """Ids of every image (or of one status), oldest first."""
    query = select(Image.id).order_by(Image.created_at, Image.id)
    if status:
        query = query.where(Image.status == status)
    return list(db.session.scalars(query))


def reprocess(image_id: str) -> str:
    """Render an image's variants again under the current settings; returns what happened, in words."""
    image = db.session.get(Image, image_id)
    if image is None:
        return "missing"
    outcome = requeue_image(image_id, "reprocess requested by an operator", REPROCESSABLE)
    if outcome is RequeueOutcome.REFUSED:
        return f"skipped: already {db.session.get(Image, image_id).status}"
    if outcome is RequeueOutcome.DEFERRED:
        return "queued (Redis unavailable: the reconciler will enqueue it)"
    return "requeued"


def delete_image(image_id: str) -> str:
    """Remove an image's files, then its row; returns what happened, in words ('deleted', 'missing', …)."""
    try:
        return "deleted" if deletion.delete_image(image_id) else "missing"
    except StorageUnavailable as error:
        log.warning("image %s left deleting: %s", image_id, error)
        return "left deleting (storage unavailable): run delete again, or the reconciler finishes it"


@dataclass(frozen=True)
class ImageStats:
    """Counts by status and the bytes the images and their variants take in storage."""

    by_status: dict[str, int]
    original_bytes: int
    variant_bytes: int

    @property
    def total(self) -> int:
        """Every image."""
        return sum(self.by_status.values())

    def as_dict(self) -> dict:
        """A JSON-ready view, for scripts."""
        return {
            "images": self.total,
            "by_status": self.by_status,
            "original_bytes": self.original_bytes,
            "variant_bytes": self.variant_bytes,
            "storage_bytes": self.original_bytes + self.variant_bytes,
        }


def image_stats() -> ImageStats:
    """Counts by status and stored bytes, as the database records them."""
    counts = dict(db.session.execute(select(Image.status, func.count()).group_by(Image.status)).all())
    by_status = {status.value: counts.get(status.value, 0) for status in ImageStatus}
    original_bytes = db.session.scalar(select(func.coalesce(func.sum(Image.bytes), 0)))
    variant_bytes = db.session.scalar(select(func.coalesce(func.sum(Variant.bytes), 0)))
    return ImageStats(by_status, int(original_bytes), int(variant_bytes))
