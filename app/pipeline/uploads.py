"""Accepting an upload: check it, store it, record it, queue it — or leave nothing behind."""

import logging
import unicodedata
from typing import BinaryIO

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app import logs
from app.exceptions import NoFile, TooLarge, Unavailable
from app.extensions import db
from app.imaging import sniff
from app.models import Image, ImageStatus, new_image_id
from app.pipeline import quotas, records
from app.pipeline.access import LEGACY_OWNER, Principal
from app.pipeline.jobs import enqueue_processing
from app.storage import get_storage, original_key

log = logging.getLogger(__name__)

MAX_FILENAME_CHARS = 200


def sanitize_filename(name: str | None) -> str:
    """A display-only version of the client's file name: no path, no control characters, capped."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        keep = "." + extension[:10] if dot and stem else ""
        name = name[: MAX_FILENAME_CHARS - len(keep) - 1].rstrip() + "…" + keep
    return name or "upload"


def measure(stream: BinaryIO) -> int:
    """The size of a seekable stream, which is left at its start."""
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


def owner_of(principal: Principal | None) -> str:
    """The owner an upload by principal belongs to (an operator's, with no principal, to the legacy owner)."""
    return principal.owner_id if principal is not None else LEGACY_OWNER


def accept_upload(stream: BinaryIO, filename: str | None, principal: Principal | None = None) -> Image:
    """Validate and store an uploaded image of principal's owner, record it as queued and enqueue its processing."""
    size = measure(stream)
    if size == 0:
        raise NoFile("The file is empty.")
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    if size > limit:
        raise TooLarge(f"The file is {size} bytes; the limit is {limit} bytes.")
    header = sniff(stream, current_app.config["MAX_IMAGE_PIXELS"], current_app.config["MAX_FRAMES"])
    # Held before anything is stored, given back if the upload fails: parallel uploads cannot pass a quota.
    hold = quotas.hold_upload(principal, size)
    image_id = new_image_id()
    image = Image(
        id=image_id,
        filename=sanitize_filename(filename),
        content_type=header.content_type,
        bytes=size,
        width=header.width,
        height=header.height,
        original_key=original_key(image_id, header.extension),
        status=ImageStatus.QUEUED.value,
        owner_id=owner_of(principal),
        quota_subject=hold.subject or owner_of(principal),
    )
    with logs.bound(image_id=image_id):
        try:
            store_and_record(image, stream, principal.key_id if principal else None, hold)
        except BaseException:
            quotas.release(hold)
            raise
        log.info("upload accepted: %s, %s bytes, %sx%s", header.content_type, size, header.width, header.height)
        queue_or_defer(image_id)
    return image


def store_and_record(
    image: Image, stream: BinaryIO, key_id: str | None = None, hold: quotas.Hold | None = None
) -> None:
    """Write the original and commit its row (its first event names the uploading key); on any failure undo both."""
    storage = get_storage()
    storage.save(image.original_key, stream, image.content_type)
    try:
        records.add_event(image, ImageStatus.QUEUED, message="uploaded", key_id=key_id)
        db.session.add(image)
        if hold is not None:
            quotas.settle(hold)  # the row counts its bytes from this commit on
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        storage.delete(image.original_key)
        log.error("database refused upload %s: %s", image.id, error)
        raise Unavailable("The database cannot take the upload right now; try again shortly.") from error


def queue_or_defer(image_id: str) -> None:
    """Enqueue processing; if Redis is down the row stays queued and the reconciler enqueues it later."""
    try:
        enqueue_processing(image_id)
    except RedisError as error:
        log.warning("image %s stored but not enqueued (Redis: %s); the reconciler will pick it up", image_id, error)
