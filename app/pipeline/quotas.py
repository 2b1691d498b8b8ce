"""Per-owner limits, off by default: bytes stored (QUOTA_BYTES) and uploads per UTC day (QUOTA_UPLOADS_PER_DAY).

Both are reserved before anything is stored, atomically, and given back if the upload is refused or fails, so
parallel uploads cannot pass a limit between a check and a count. Whose limits apply is the upload's quota subject:
the owner of a key, or for the upload page's anonymous owners (each new browser is one, for free) the client's
network — its IPv4 address or IPv6 /64, behind TRUSTED_PROXIES the forwarded one — which they all share.

The database is the truth for bytes: a subject's stored bytes are its images' originals and variant files as their
rows record them (so a deleted image or a failed upload frees its bytes, and variants count once written), plus the
reservations of uploads in flight. A reservation is made with the subject's row locked (an UPDATE: a row lock on
PostgreSQL, the write lock on SQLite), so concurrent uploads queue for the check, and is settled in the transaction
that writes the image row. Redis counts the day's uploads (INCRBY and check in one Lua script): a rate, not
something stored, and with Redis down it fails open, as RATE_LIMIT does.
"""

import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, has_request_context, request
from redis.exceptions import RedisError
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.exceptions import QuotaExceeded, RateLimited
from app.extensions import db, redis_queue
from app.models import Image, QuotaReservation, QuotaSubject, Variant, VariantFile, utcnow
from app.pipeline.access import Principal

log = logging.getLogger(__name__)

DAY = 86400
KEY_PREFIX = "pixline:quota:uploads"
# The page's anonymous owners (app.web.page_session): made by any cookie-less visit, so they share their network's.
ANONYMOUS_PREFIX = "anon_"
ADDRESS_PREFIX = "address:"
# A reservation its upload never settled (the web process died mid-upload) stops counting after this long.
RESERVATION_SECONDS = 600
# Counts one upload in the day's key unless that passes the limit; -1 then (nothing counted).
_TAKE_UPLOAD = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if count > tonumber(ARGV[2]) then
  redis.call('DECRBY', KEYS[1], ARGV[1])
  return -1
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return count
"""


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
    # Whose quota the owner's uploads count against, and what counts there (stored and in flight).
    subject: str = ""
    subject_bytes: int = 0

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
            # What the limits count: the owner's, or (anonymous page owners) everything uploaded from its network.
            "counted_per": "address" if self.subject.startswith(ADDRESS_PREFIX) else "owner",
            "counted_bytes": self.subject_bytes,
        }


@dataclass
class Hold:
    """What an upload in flight holds against its subject's quotas: a reservation of bytes, and the day's count."""

    subject: str | None
    reservation_id: int | None = None
    day_key: str | None = None


# --- who pays -------------------------------------------------------------------------------------------------


def client_network(address: str | None) -> str:
    """The network one client holds: its IPv4 address, or its IPv6 address's /64 ('unknown' with none)."""
    try:
        parsed = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return address or "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def request_address() -> str | None:
    """The client address of the request being served (ProxyFix has applied TRUSTED_PROXIES), if any."""
    return request.remote_addr if has_request_context() else None


def subject_of(principal: Principal | None, address: str | None = None) -> str | None:
    """Whose quota principal's uploads count against: its owner's, or its client network's for an anonymous owner."""
    if principal is None:
        return None
    if principal.key_id is None and principal.owner_id.startswith(ANONYMOUS_PREFIX):
        return ADDRESS_PREFIX + client_network(address if address is not None else request_address())
    return principal.owner_id


# --- what is stored -------------------------------------------------------------------------------------------


def stored_bytes(owner_id: str) -> tuple[int, int, int]:
    """(images, original bytes, variant bytes: every format's file) the database records for owner_id."""
    return _stored(Image.owner_id == owner_id)


def subject_bytes(subject: str) -> int:
    """Bytes counted against subject's quota: its images' originals and variant files, and reservations in flight."""
    which = Image.quota_subject == subject
    originals = select(func.coalesce(func.sum(Image.bytes), 0)).where(which).scalar_subquery()
    variants = (
        select(func.coalesce(func.sum(VariantFile.bytes), 0)).join(Variant).join(Image).where(which).scalar_subquery()
    )
    held = (
        select(func.coalesce(func.sum(QuotaReservation.bytes), 0))
        .where(QuotaReservation.subject == subject, QuotaReservation.expires_at > utcnow())
        .scalar_subquery()
    )
    # One statement, so one snapshot: an upload settling meanwhile (its reservation becoming its image row) is seen
    # either before or after, never half (on PostgreSQL each statement of a transaction sees a snapshot of its own).
    return int(db.session.scalar(select(originals + variants + held)))


def _stored(which) -> tuple[int, int, int]:
    """(images, original bytes, variant file bytes) of the images `which` selects."""
    images, originals = db.session.execute(
        select(func.count(Image.id), func.coalesce(func.sum(Image.bytes), 0)).where(which)
    ).one()
    variants = db.session.scalar(
        select(func.coalesce(func.sum(VariantFile.bytes), 0)).join(Variant).join(Image).where(which)
    )
    return int(images), int(originals), int(variants)


def day_key(subject: str, now: float) -> str:
    """The Redis counter of subject's uploads on the UTC day of now."""
    return f"{KEY_PREFIX}:{subject}:{int(now // DAY)}"


def uploads_today(subject: str, now: float | None = None) -> int:
    """How many uploads subject started today (UTC); 0 when Redis cannot say."""
    try:
        return int(redis_queue.connection.get(day_key(subject, time.time() if now is None else now)) or 0)
    except RedisError as error:
        log.warning("daily upload count not read (Redis: %s)", error)
        return 0


def usage(owner_id: str, subject: str | None = None) -> Usage:
    """The owner's usage, the limits in force and what counts against them (subject: default the owner)."""
    images, originals, variants = stored_bytes(owner_id)
    subject = subject or owner_id
    config = current_app.config
    return Usage(
        owner_id, images, originals, variants, uploads_today(subject), config["QUOTA_BYTES"],
        config["QUOTA_UPLOADS_PER_DAY"], subject, subject_bytes(subject),
    )  # fmt: skip


def usage_of(principal: Principal) -> Usage:
    """The usage GET /api/usage shows principal: its owner's, counted against its quota subject."""
    return usage(principal.owner_id, subject_of(principal))


def usage_by_owner(owner_ids: set[str]) -> list[Usage]:
    """Usage of every owner that has images, and of each of owner_ids, by owner."""
    owners = set(db.session.scalars(select(Image.owner_id).distinct())) | owner_ids
    return [usage(owner_id) for owner_id in sorted(owners)]


# --- reserving and settling -----------------------------------------------------------------------------------


def hold_upload(principal: Principal | None, size: int, now: float | None = None) -> Hold:
    """Reserve size bytes and one of today's uploads for principal's upload, or refuse it; operators have no limits."""
    hold = Hold(subject_of(principal))
    if hold.subject is None:
        return hold
    reserve_bytes(hold, size)
    try:
        take_upload(hold, now)
    except RateLimited:
        release(hold)
        raise
    return hold


def reserve_bytes(hold: Hold, size: int) -> None:
    """Reserve size more bytes for hold's subject (QuotaExceeded if they do not fit); committed at once."""
    quota = current_app.config["QUOTA_BYTES"]
    if not quota or hold.subject is None:
        return
    subject = hold.subject
    db.session.commit()  # a transaction of its own, whose first statement takes the lock
    _lock(subject)
    counted = subject_bytes(subject)
    if counted + size > quota:
        db.session.rollback()
        raise QuotaExceeded(
            f"{_whose(subject)} stores {counted} bytes; {size} more would pass the quota of {quota} bytes. "
            "Delete images to make room."
        )
    reservation = QuotaReservation(
        subject=subject, bytes=size, expires_at=utcnow() + timedelta(seconds=RESERVATION_SECONDS)
    )
    db.session.add(reservation)
    db.session.commit()
    hold.reservation_id = reservation.id


def _lock(subject: str) -> None:
    """Lock subject's row until the transaction ends (made on first use): concurrent reservations wait here."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(insert(QuotaSubject).values(subject=subject).on_conflict_do_nothing())
    db.session.execute(update(QuotaSubject).where(QuotaSubject.subject == subject).values(locked_at=utcnow()))


def _whose(subject: str) -> str:
    """How a refusal names the subject."""
    if subject.startswith(ADDRESS_PREFIX):
        return f"Uploads from {subject.removeprefix(ADDRESS_PREFIX)} without a key"
    return f"Owner {subject!r}"


def take_upload(hold: Hold, now: float | None = None) -> None:
    """Count one of today's uploads for hold's subject, or refuse it (429 with Retry-After until midnight UTC)."""
    limit = current_app.config["QUOTA_UPLOADS_PER_DAY"]
    if not limit or hold.subject is None:
        return
    now = time.time() if now is None else now
    key = day_key(hold.subject, now)
    try:
        counted = redis_queue.connection.eval(_TAKE_UPLOAD, 1, key, 1, limit, DAY + 60)
    except RedisError as error:
        log.warning("upload not counted against the daily quota (Redis: %s)", error)
        return
    if int(counted) < 0:
        retry_after = max(1, math.ceil((int(now // DAY) + 1) * DAY - now))
        raise RateLimited(f"{_whose(hold.subject)} made {limit} uploads today (UTC).", retry_after=retry_after)
    hold.day_key = key


def settle(hold: Hold) -> None:
    """In the transaction that writes the image row: the row counts the bytes from now on, not the reservation."""
    if hold.reservation_id is not None:
        db.session.execute(delete(QuotaReservation).where(QuotaReservation.id == hold.reservation_id))


def release(hold: Hold) -> None:
    """Give back what an upload that did not happen held: its reserved bytes and its count of the day."""
    if hold.reservation_id is not None:
        db.session.rollback()
        db.session.execute(delete(QuotaReservation).where(QuotaReservation.id == hold.reservation_id))
        db.session.commit()
        hold.reservation_id = None
    if hold.day_key is not None:
        try:
            redis_queue.connection.decr(hold.day_key)
        except RedisError as error:
            log.warning("failed upload not given back to the daily quota (Redis: %s)", error)
        hold.day_key = None
