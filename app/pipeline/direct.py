"""Direct uploads: issue a presigned POST, complete the upload once the object has arrived, clean up the abandoned.

The storage enforces the POST policy (key, size range, Content-Type, expiry) as a first line; completion re-checks
the stored object itself as the second, because not every S3-compatible server enforces every condition.

The policy names uploads/<id>.<ext>, never the original's key: the POST stays valid until it expires, so completion
copies the object to originals/<id>.<ext> (which no policy can write), checks that copy, and processing reads only it.
A second POST after completion lands on the upload key, which nothing reads and cleanup removes.
"""

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from app.exceptions import (
    Conflict,
    InvalidImage,
    NotFound,
    PixlineError,
    QuotaExceeded,
    StorageUnavailable,
    TooLarge,
    TooManyPixels,
    Unavailable,
    UnsupportedType,
)
from app.extensions import db
from app.imaging import ALLOWED_FORMATS, CONTENT_TYPES, EXTENSIONS, Header, sniff
from app.models import Image, ImageStatus, new_image_id, utcnow
from app.pipeline import quotas, records
from app.pipeline.access import Principal
from app.pipeline.listing import visible
from app.pipeline.uploads import owner_of, queue_or_defer, sanitize_filename
from app.storage import delete_image_files, get_storage, original_key, upload_key

if TYPE_CHECKING:
    # Only for annotations: boto3 is imported when the s3 backend is configured, not by every app.
    from app.storage.s3 import PresignedPost, S3Storage

log = logging.getLogger(__name__)

# Content-Type a client may declare → the extension of the key it uploads to.
UPLOAD_EXTENSIONS = {CONTENT_TYPES[name]: EXTENSIONS[name] for name in ALLOWED_FORMATS}
# What an arrived object can be refused for: the image fails with the error's code and the object is deleted.
REFUSALS = (TooLarge, UnsupportedType, TooManyPixels, InvalidImage, QuotaExceeded)


def direct_storage() -> "S3Storage":
    """The storage, if it can take uploads straight from browsers."""
    storage = get_storage()
    if not hasattr(storage, "presigned_post"):
        raise Conflict("Direct uploads need object storage (STORAGE_BACKEND=s3); use POST /api/images instead.")
    return storage


def start_direct_upload(
    filename: str | None, content_type: str, declared_bytes: int, principal: Principal | None = None
) -> tuple[Image, "PresignedPost"]:
    """Record an image of principal's owner awaiting its upload and presign the POST that brings it to the bucket."""
    storage = direct_storage()
    if content_type not in UPLOAD_EXTENSIONS:
        raise UnsupportedType()
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    if declared_bytes > limit:
        raise TooLarge(f"The file is {declared_bytes} bytes; the limit is {limit} bytes.")
    # The declared bytes are held until the row (awaiting its file) counts them; complete holds any more that came.
    hold = quotas.hold_upload(principal, declared_bytes)
    try:
        return _record_awaiting(storage, filename, content_type, declared_bytes, principal, hold)
    except BaseException:
        quotas.release(hold)
        raise


def _record_awaiting(
    storage: "S3Storage", filename: str | None, content_type: str, declared_bytes: int, principal, hold
) -> tuple[Image, "PresignedPost"]:
    """Presign the POST and commit the image row awaiting it, settling the quota hold in the same transaction."""
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    image_id = new_image_id()
    key = original_key(image_id, UPLOAD_EXTENSIONS[content_type])
    post = storage.presigned_post(upload_key(key), content_type, limit, current_app.config["UPLOAD_URL_TTL"])
    image = Image(
        id=image_id,
        filename=sanitize_filename(filename),
        content_type=content_type,
        bytes=declared_bytes,
        original_key=key,
        status=ImageStatus.AWAITING_UPLOAD.value,
        owner_id=owner_of(principal),
        quota_subject=hold.subject or owner_of(principal),
    )
    key_id = principal.key_id if principal else None
    records.add_event(image, ImageStatus.AWAITING_UPLOAD, message="upload URL issued", key_id=key_id)
    try:
        db.session.add(image)
        quotas.settle(hold)
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        raise Unavailable("The database cannot take the upload right now; try again shortly.") from error
    return image, post


def complete_upload(image_id: str, principal: Principal | None = None) -> Image:
    """Check the arrived object and queue its processing; an upload completed before is returned as it is.

    Without a principal (a bucket event) it completes the upload of whichever owner started it: the row says whose.
    """
    image = db.session.get(Image, image_id) if len(image_id) <= 64 else None
    if not visible(image, principal):
        raise NotFound(f"No image with id {image_id!r}.")
    if image.image_status is not ImageStatus.AWAITING_UPLOAD:
        return image
    storage = direct_storage()
    size = take_arrived(storage, image)
    if size is None:
        current = reload(image_id)
        if current is None:
            raise NotFound(f"No image with id {image_id!r}.")
        if current.image_status is not ImageStatus.AWAITING_UPLOAD:
            return current
        raise Conflict("The file has not arrived in storage yet; POST it to the upload URL first.")
    # The POST policy allows up to MAX_UPLOAD_BYTES: bytes past the declared size must still fit the quota.
    hold = quotas.Hold(image.quota_subject or image.owner_id)
    try:
        if size > image.bytes:
            quotas.reserve_bytes(hold, size - image.bytes)
        header = inspect_arrived(storage, image.original_key, size)
    except REFUSALS as refusal:
        quotas.release(hold)
        refuse(storage, image, refusal)
        raise
    values = {"content_type": header.content_type, "bytes": size, "width": header.width, "height": header.height}
    # Settled with the row's new size; if another completion won, given back.
    if leave_awaiting(image, ImageStatus.QUEUED, values, message="upload completed", hold=hold):
        discard(storage, upload_key(image.original_key))
        queue_or_defer(image.id)
        return image
    quotas.release(hold)
    if reload(image_id) is None:
        # Cleanup removed the expired row while we copied: the copy belongs to no image.
        discard(storage, image.original_key)
        raise NotFound(f"No image with id {image_id!r}.")
    return image


def reload(image_id: str) -> Image | None:
    """The image row as the database has it now (another request may have changed or removed it)."""
    db.session.expire_all()
    return db.session.get(Image, image_id)


def take_arrived(storage: "S3Storage", image: Image) -> int | None:
    """Copy the uploaded object to the original's key, which no POST policy can write; the copy's size, or None."""
    try:
        storage.copy(upload_key(image.original_key), image.original_key, image.content_type)
    except FileNotFoundError:
        # Not POSTed yet, or a concurrent completion already took it (and deleted the upload key).
        return None
    head = storage.head(image.original_key)
    return head.size if head else None


def complete_by_key(key: str) -> Image | None:
    """Complete the upload a bucket notification names; None when the key is not an upload Pixline issued."""
    image_id = image_id_of_upload(key)
    image = db.session.get(Image, image_id) if image_id else None
    if image is None or upload_key(image.original_key) != key:
        log.info("bucket event for %r matches no upload; ignored", key)
        return None
    return complete_upload(image.id)


def image_id_of_upload(key: str) -> str | None:
    """The image id in an upload's key (uploads/<id>.<ext>), or None."""
    if not key.startswith("uploads/"):
        return None
    image_id, dot, _ = key.removeprefix("uploads/").partition(".")
    return image_id if dot and image_id.isalnum() and len(image_id) <= 64 else None


def inspect_arrived(storage: "S3Storage", key: str, size: int) -> Header:
    """The arrived object's header, refusing what is too large or not an allowed image; reads only its start."""
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    if size > limit:
        raise TooLarge(f"The uploaded file is {size} bytes; the limit is {limit} bytes.")
    with storage.open_lazy(key, size) as stream:
        return sniff(stream, current_app.config["MAX_IMAGE_PIXELS"])


def refuse(storage: "S3Storage", image: Image, refusal: PixlineError) -> None:
    """Fail the image with the refusal's code and delete the object the client sent, and its checked copy."""
    # Its files go: the row stores nothing, so its bytes no longer count against the quota.
    values = {"error_code": refusal.code, "error_message": refusal.message[:500], "bytes": 0}
    if leave_awaiting(image, ImageStatus.FAILED, values, error_code=refusal.code, message=refusal.message):
        log.info("direct upload %s refused: %s", image.id, refusal.code)
        # With the original gone, a later /retry finds nothing to process, whatever is POSTed meanwhile.
        discard(storage, image.original_key)
        discard(storage, upload_key(image.original_key))


def discard(storage: "S3Storage", key: str) -> None:
    """Delete an object if storage lets us now; cleanup removes stray uploads later, the audit reports originals."""
    try:
        storage.delete(key)
    except StorageUnavailable as error:
        log.warning("could not delete %s for now: %s", key, error)


def leave_awaiting(
    image: Image,
    status: ImageStatus,
    values: dict,
    error_code: str | None = None,
    message: str | None = None,
    hold: quotas.Hold | None = None,
) -> bool:
    """Move the image out of awaiting_upload, unless another completion got there first; whether this one did."""
    result = db.session.execute(
        update(Image)
        .where(Image.id == image.id, Image.status == ImageStatus.AWAITING_UPLOAD.value)
        .values(status=status.value, **values)
    )
    if result.rowcount != 1:
        db.session.rollback()
        return False
    if hold is not None:
        quotas.settle(hold)
    records.add_event(image, status, error_code=error_code, message=message)
    records.commit_and_publish(image)
    return True


def cleanup_expired_uploads(now: datetime | None = None) -> int:
    """Remove uploads still awaiting their file past UPLOAD_URL_TTL + UPLOAD_GRACE_SECONDS, and stray upload objects."""
    config = current_app.config
    cutoff = (now or utcnow()) - timedelta(seconds=config["UPLOAD_URL_TTL"] + config["UPLOAD_GRACE_SECONDS"])
    expired = db.session.scalars(
        select(Image.id).where(Image.status == ImageStatus.AWAITING_UPLOAD.value, Image.created_at < cutoff)
    ).all()
    storage = get_storage()
    removed = 0
    for image_id in expired:
        # Row first, and only if still awaiting: a completion that got in before keeps its row and its original.
        result = db.session.execute(
            delete(Image).where(Image.id == image_id, Image.status == ImageStatus.AWAITING_UPLOAD.value)
        )
        db.session.commit()
        removed += result.rowcount
        if result.rowcount == 1:
            try:
                delete_image_files(storage, image_id)
            except StorageUnavailable as error:
                log.warning("could not delete the files of expired upload %s for now: %s", image_id, error)
    try:
        strays = remove_stray_uploads(storage)
    except StorageUnavailable as error:
        strays = 0
        log.warning("could not look for stray upload objects for now: %s", error)
    log.info("removed %d expired direct upload(s) and %d stray upload object(s)", removed, strays)
    return removed


def remove_stray_uploads(storage) -> int:
    """Delete upload objects no awaiting image is waiting for: POSTed again after completion, or left by a failure."""
    if not hasattr(storage, "presigned_post"):
        return 0
    keys = {key: image_id_of_upload(key) for key in storage.keys("uploads/")}
    ids = {image_id for image_id in keys.values() if image_id}
    awaiting = (
        set(
            db.session.scalars(
                select(Image.id).where(Image.id.in_(ids), Image.status == ImageStatus.AWAITING_UPLOAD.value)
            )
        )
        if ids
        else set()
    )
    strays = [key for key, image_id in keys.items() if image_id not in awaiting]
    for key in strays:
        discard(storage, key)
    return len(strays)
