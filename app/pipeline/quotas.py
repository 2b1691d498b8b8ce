"""Per-owner limits, off by default: bytes stored (QUOTA_BYTES) and uploads per UTC day (QUOTA_UPLOADS_PER_DAY).

Both are checked before anything is stored. Stored bytes come from the database (originals + variants, as the audit
sees them); the day's uploads are counted in Redis, so deleting an image gives back bytes but not an upload. With
Redis down the daily count fails open, as RATE_LIMIT does: uploads keep working and are queued later.
"""

import logging
import math
import time
from dataclasses import dataclass

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import func, select

from app.exceptions import QuotaExceeded, RateLimited
from app.extensions import db, redis_queue
from app.models import Image, Variant
from app.pipeline.access import Principal

log = logging.getLogger(__name__)

DAY = 86400
KEY_PREFIX = "pixline:quota:uploads"


@dataclass(frozen=True)
class Usage:
    """What one owner stores and has uploaded today, and the limits that apply (0: none)."""

    owner_id: str
    images: int
    original_bytes: int
    variant_bytes: int
    uploads_today: int
    quota_bytes: int
    quota_uploads_per_day: int

    @property
    def stored_bytes(self) -> int:
        """Originals and variants together: what QUOTA_BYTES limits."""
        return self.original_bytes + self.variant_bytes

    def as_dict(self) -> dict:
        """The JSON shape of GET /api/usage."""
        return {
            "owner": self.owner_id,
            "images": self.images,
            "original_bytes": self.original_bytes,
            "variant_bytes": self.variant_bytes,
            "stored_bytes": self.stored_bytes,
            # Counted only while a daily quota is set.
            "uploads_today": self.uploads_today if self.quota_uploads_per_day else None,
            "limits": {
                "quota_bytes": self.quota_bytes or None,
                "uploads_per_day": self.quota_uploads_per_day or None,
            },
        }


def stored_bytes(owner_id: str) -> tuple[int, int, int]:
    """(images, original bytes, variant bytes) the database records for owner_id."""
    images, originals = db.session.execute(
        select(func.count(Image.id), func.coalesce(func.sum(Image.bytes), 0)).where(Image.owner_id == owner_id)
    ).one()
    variants = db.session.scalar(
        select(func.coalesce(func.sum(Variant.bytes), 0)).join(Image).where(Image.owner_id == owner_id)
    )
    return int(images), int(originals), int(variants)


def day_key(owner_id: str, now: float) -> str:
    """The Redis counter of owner_id's uploads on the UTC day of now."""
    return f"{KEY_PREFIX}:{owner_id}:{int(now // DAY)}"


def uploads_today(owner_id: str, now: float | None = None) -> int:
    """How many uploads owner_id started today (UTC); 0 when Redis cannot say."""
    try:
        return int(redis_queue.connection.get(day_key(owner_id, time.time() if now is None else now)) or 0)
    except RedisError as error:
        log.warning("daily upload count not read (Redis: %s)", error)
        return 0


def usage(owner_id: str) -> Usage:
    """The owner's usage and the limits in force."""
    images, originals, variants = stored_bytes(owner_id)
    config = current_app.config
    return Usage(
        owner_id, images, originals, variants, uploads_today(owner_id), config["QUOTA_BYTES"],
        config["QUOTA_UPLOADS_PER_DAY"],
    )  # fmt: skip


def usage_by_owner(owner_ids: set[str]) -> list[Usage]:
    """Usage of every owner that has images, and of each of owner_ids, by owner."""
    owners = set(db.session.scalars(select(Image.owner_id).distinct())) | owner_ids
    return [usage(owner_id) for owner_id in sorted(owners)]


def check_bytes(owner_id: str, size: int) -> None:
    """Refuse size more bytes for owner_id if they would pass QUOTA_BYTES."""
    quota = current_app.config["QUOTA_BYTES"]
    if not quota:
        return
    _, originals, variants = stored_bytes(owner_id)
    if originals + variants + size > quota:
        raise QuotaExceeded(
            f"Owner {owner_id!r} stores {originals + variants} bytes; {size} more would pass the quota of "
            f"{quota} bytes. Delete images to make room."
        )


def check_upload(principal: Principal | None, size: int, now: float | None = None) -> None:
    """Refuse an upload of size bytes that would break the owner's limits; operators (no principal) have none."""
    if principal is None:
        return
    owner_id = principal.owner_id
    check_bytes(owner_id, size)
    limit = current_app.config["QUOTA_UPLOADS_PER_DAY"]
    now = time.time() if now is None else now
    if limit and uploads_today(owner_id, now) >= limit:
        retry_after = max(1, math.ceil((int(now // DAY) + 1) * DAY - now))
        raise RateLimited(f"Owner {owner_id!r} has made its {limit} uploads today (UTC).", retry_after=retry_after)


def count_upload(principal: Principal | None, now: float | None = None) -> None:
    """Count one accepted upload against the owner's day (only while a daily quota is set)."""
    if principal is None or not current_app.config["QUOTA_UPLOADS_PER_DAY"]:
        return
    key = day_key(principal.owner_id, time.time() if now is None else now)
    try:
        pipeline = redis_queue.connection.pipeline()
        pipeline.incr(key)
        pipeline.expire(key, DAY + 60)
        pipeline.execute()
    except RedisError as error:
        log.warning("upload not counted against the daily quota (Redis: %s)", error)
