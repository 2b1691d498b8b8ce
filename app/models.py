"""Database models: an Image, its Variants (one file per output format), the Events of its life, and API keys."""

import enum
import uuid
from datetime import UTC, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (what both SQLite and PostgreSQL store alike)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_image_id() -> str:
    """A random, URL-safe image id."""
    return uuid.uuid4().hex


class ImageStatus(enum.StrEnum):
    """Where an image is in its life."""

    AWAITING_UPLOAD = "awaiting_upload"
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    # Being deleted: files first, then the row; hidden from clients, finished by a retried DELETE or the reconciler.
    DELETING = "deleting"

    @property
    def is_terminal(self) -> bool:
        """Whether processing has ended, for good or ill."""
        return self in (ImageStatus.DONE, ImageStatus.FAILED)


class Image(db.Model):
    """One uploaded image: the original's facts and its processing status."""

    __tablename__ = "images"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_image_id)
    status: Mapped[str] = mapped_column(String(20), index=True, default=ImageStatus.QUEUED.value)
    filename: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(50))
    bytes: Mapped[int] = mapped_column()
    width: Mapped[int | None] = mapped_column()
    height: Mapped[int | None] = mapped_column()
    original_key: Mapped[str] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(default=0)
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_message: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Who the image belongs to (an API key's owner, or a browser's); rows from before owners are "legacy".
    owner_id: Mapped[str] = mapped_column(String(64), index=True, default="legacy", server_default="legacy")
    # Whose storage quota the image counts against: its owner, or `address:<network>` for the page's anonymous owners.
    quota_subject: Mapped[str | None] = mapped_column(String(80), index=True)
    # {"blurhash", "color", "data_uri"}: what pages show while the variants load (set when done).
    placeholder: Mapped[dict | None] = mapped_column(JSON)

    variants: Mapped[list["Variant"]] = relationship(
        back_populates="image", cascade="all, delete-orphan", order_by="Variant.width"
    )
    events: Mapped[list["ImageEvent"]] = relationship(
        back_populates="image", cascade="all, delete-orphan", order_by="ImageEvent.id"
    )

    @property
    def image_status(self) -> ImageStatus:
        """The status as an enum."""
        return ImageStatus(self.status)

    def set_error(self, code: str | None, message: str | None) -> None:
        """Record (or clear, with None) the last processing error."""
        self.error_code = code
        self.error_message = message[:500] if message else None


class Variant(db.Model):
    """One resized rendition of an image; key, format and bytes are its first format's file (see files for all)."""

    __tablename__ = "variants"
    __table_args__ = (UniqueConstraint("image_id", "name", name="uq_variant_image_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(255))
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    format: Mapped[str] = mapped_column(String(10))
    bytes: Mapped[int] = mapped_column()
    animated: Mapped[bool] = mapped_column(default=False, server_default=false())
    frames: Mapped[int] = mapped_column(default=1, server_default="1")
    # "fit" (inside a square box) or "cover" (exactly its box, cropped).
    mode: Mapped[str] = mapped_column(String(10), default="fit", server_default="fit")

    image: Mapped[Image] = relationship(back_populates="variants")
    files: Mapped[list["VariantFile"]] = relationship(
        back_populates="variant", cascade="all, delete-orphan", order_by="VariantFile.rank", lazy="selectin"
    )


class VariantFile(db.Model):
    """A variant encoded in one output format (AVIF, WebP, ...), stored under its own content-digest key."""

    __tablename__ = "variant_files"
    __table_args__ = (UniqueConstraint("variant_id", "format", name="uq_variant_file_format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"), index=True)
    # Preference order: 0 is OUTPUT_FORMATS' first format (the variant's own key).
    rank: Mapped[int] = mapped_column()
    format: Mapped[str] = mapped_column(String(10))
    content_type: Mapped[str] = mapped_column(String(50))
    key: Mapped[str] = mapped_column(String(255), index=True)
    bytes: Mapped[int] = mapped_column()

    variant: Mapped[Variant] = relationship(back_populates="files")


class ImageEvent(db.Model):
    """A step in an image's history: a status change, an attempt, an error."""

    __tablename__ = "image_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20))
    attempt: Mapped[int] = mapped_column(default=0)
    error_code: Mapped[str | None] = mapped_column(String(50))
    message: Mapped[str | None] = mapped_column(String(500))
    # The API key that caused this step (uploaded it, deleted it), when one did.
    key_id: Mapped[str | None] = mapped_column(String(32))

    image: Mapped[Image] = relationship(back_populates="events")


# --- webhooks: an owner's endpoints, the outbox of events, and each event's delivery to each endpoint ----------


class WebhookEndpoint(db.Model):
    """A URL an owner asked to be called on, with the events it wants and the secret its calls are signed with."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: "whe_" + uuid.uuid4().hex[:24])
    owner_id: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(100))
    # After a rotation the old secret still signs (a second signature) until it expires.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column()
    disabled_at: Mapped[datetime | None] = mapped_column()
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    failing_since: Mapped[datetime | None] = mapped_column()
    # Failed attempts in a row, and until when the endpoint rests after the last one (it keeps timing out: slowed).
    consecutive_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    resume_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(db.Model):
    """One outbox entry: an event and the exact body every delivery of it sends (its id is the `webhook-id`)."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: "msg_" + uuid.uuid4().hex)
    type: Mapped[str] = mapped_column(String(40))
    owner_id: Mapped[str] = mapped_column(String(64), index=True)
    image_id: Mapped[str | None] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(db.Model):
    """One event owed to one endpoint: pending until a 2xx, or failed once its retries are spent."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        # An endpoint's next due delivery, and an owner's backlog, without reading its delivered history.
        Index("ix_webhook_deliveries_endpoint_due", "endpoint_id", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    # Attempts begun; the next one's job is `webhook-<id>-<attempts + 1>`.
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    event: Mapped[WebhookEvent] = relationship()
    endpoint: Mapped[WebhookEndpoint] = relationship()
    attempt_log: Mapped[list["WebhookAttempt"]] = relationship(
        back_populates="delivery", cascade="all, delete-orphan", order_by="WebhookAttempt.number"
    )


class WebhookAttempt(db.Model):
    """One try at a delivery: what the receiver answered (or why there was no answer), and how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column()
    duration_ms: Mapped[int | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(String(500))

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="attempt_log")


class ApiKey(db.Model):
    """An API key of one owner: only a SHA-256 of its secret is kept, never the secret."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[str] = mapped_column(String(64), index=True)
    # Space-separated scope names (images:read images:write …).
    scopes: Mapped[str] = mapped_column(String(200))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    last4: Mapped[str] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    @property
    def scope_set(self) -> frozenset[str]:
        """The scopes as a set."""
        return frozenset(self.scopes.split())


# --- quotas: a row to lock per quota subject, and the bytes of uploads in flight -------------------------------


class QuotaSubject(db.Model):
    """Someone a storage quota applies to (an owner, or a client network): its row is locked to reserve bytes."""

    __tablename__ = "quota_subjects"

    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    locked_at: Mapped[datetime | None] = mapped_column()


class QuotaReservation(db.Model):
    """Bytes an upload in flight holds against its subject's quota, from the check until its image row is written."""

    __tablename__ = "quota_reservations"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(80), index=True)
    bytes: Mapped[int] = mapped_column()
    # A reservation its upload never settled (the process died) stops counting then.
    expires_at: Mapped[datetime] = mapped_column()
