"""Status transitions of image rows: each one recorded as an event and announced."""

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from app.extensions import db
from app.imaging import Rendered
from app.models import Image, ImageEvent, ImageStatus, Variant
from app.pipeline.notify import publish_status
from app.pipeline.webhooks import IMAGE_DONE, IMAGE_FAILED, outbox
from app.storage import get_storage


def add_event(image: Image, status: ImageStatus, error_code: str | None = None, message: str | None = None) -> None:
    """Append a history entry for the image (committed with the caller's transaction)."""
    image.events.append(ImageEvent(status=status.value, attempt=image.attempts, error_code=error_code, message=message))


def commit_and_publish(image: Image) -> None:
    """Commit the session, then tell long-polling clients the image's new status."""
    image_id, status = image.id, image.status
    db.session.commit()
    publish_status(image_id, status)


def is_unfinished(image_id: str) -> bool:
    """Whether the image still exists and still wants its variants (not done, not being deleted)."""
    db.session.rollback()  # a fresh read, not the snapshot of a transaction begun before the render
    return db.session.scalar(select(Image.status).where(Image.id == image_id)) in _NOT_DONE


def mark_done(image_id: str, rendered: Rendered, keys: dict[str, str]) -> bool:
    """Record the variants (stored under keys, by name): the image is done. False if it is gone, deleting or done."""
    done = {"status": ImageStatus.DONE.value, "width": rendered.width, "height": rendered.height}
    result = db.session.execute(
        update(Image)
        .where(Image.id == image_id, Image.status.in_(_NOT_DONE))
        .values(**done, error_code=None, error_message=None)
    )
    if result.rowcount != 1:
        db.session.rollback()
        return False
    image = db.session.get(Image, image_id, populate_existing=True)
    _record_variants(image, rendered, keys)
    add_event(image, ImageStatus.DONE)
    outbox.record(image, IMAGE_DONE)
    try:
        commit_and_publish(image)
    except StaleDataError:
        # Rows changed under us (deleted): nothing was recorded, and the caller removes what it wrote.
        db.session.rollback()
        return False
    # The previous rendering's files (and any an interrupted attempt left) go once no row names them.
    remove_unrecorded_variants(image_id)
    return True


def _record_variants(image: Image, rendered: Rendered, keys: dict[str, str]) -> None:
    """Make the image's variant rows match the rendered variants (updated in place, added, removed)."""
    by_name = {variant.name: variant for variant in image.variants}
    for output in rendered.variants:
        row = by_name.pop(output.name, None) or Variant(name=output.name)
        row.key = keys[output.name]
        row.width, row.height = output.width, output.height
        row.format, row.bytes = output.format, len(output.data)
        row.animated, row.frames = output.animated, output.frames
        if row.id is None:
            image.variants.append(row)
    for leftover in by_name.values():
        image.variants.remove(leftover)


def discard_unrecorded(image_id: str, keys: Iterable[str]) -> None:
    """Delete files a job wrote that no variant row of a live image names (it was deleted, or done by another job)."""
    db.session.rollback()
    image = db.session.get(Image, image_id, populate_existing=True)
    is_live = image is not None and image.status != ImageStatus.DELETING.value
    recorded = {variant.key for variant in image.variants} if is_live else set()
    db.session.rollback()
    storage = get_storage()
    for key in keys:
        if key not in recorded:
            storage.delete(key)


def mark_attempt_failed(image_id: str, code: str, message: str, will_retry: bool) -> None:
    """Record a failed attempt: back to queued when a retry is scheduled, else failed for good (never undoes done)."""
    status = ImageStatus.QUEUED if will_retry else ImageStatus.FAILED
    if not _move_unless_done(image_id, status, code, message, allowed=_NOT_DONE):
        return
    if status is ImageStatus.FAILED:
        remove_unrecorded_variants(image_id)


def requeue_unfinished(image_id: str, reason: str, error_code: str | None = None) -> bool:
    """Set a queued or processing image back to queued (the caller enqueues it); False if it has finished."""
    return _move_unless_done(image_id, ImageStatus.QUEUED, error_code, reason, allowed=_UNFINISHED, keep_error=True)


def fail_unfinished(image_id: str, code: str, message: str) -> bool:
    """Fail a queued or processing image for good; False if it has finished meanwhile."""
    if not _move_unless_done(image_id, ImageStatus.FAILED, code, message, allowed=_UNFINISHED):
        return False
    remove_unrecorded_variants(image_id)
    return True


_UNFINISHED = (ImageStatus.QUEUED.value, ImageStatus.PROCESSING.value)
_NOT_DONE = (*_UNFINISHED, ImageStatus.FAILED.value)


def requeue_from(image_id: str, reason: str, allowed: tuple[str, ...]) -> bool:
    """Set an image back to queued with its error cleared, only from the allowed statuses (the caller enqueues)."""
    values = {"status": ImageStatus.QUEUED.value, "error_code": None, "error_message": None}
    return _move(image_id, ImageStatus.QUEUED, allowed, values, None, reason)


def _move_unless_done(
    image_id: str,
    status: ImageStatus,
    code: str | None,
    message: str,
    allowed: tuple[str, ...],
    keep_error: bool = False,
) -> bool:
    """Change the status with a conditional update, so a concurrent `done` is never overwritten; log an event."""
    values = {"status": status.value}
    if not keep_error:
        values |= {"error_code": code, "error_message": message[:500] if message else None}
    return _move(image_id, status, allowed, values, code, message)


def _move(
    image_id: str, status: ImageStatus, allowed: tuple[str, ...], values: dict, code: str | None, message: str
) -> bool:
    """Apply values only while the row is in one of the allowed statuses; on success log an event and announce it."""
    result = db.session.execute(update(Image).where(Image.id == image_id, Image.status.in_(allowed)).values(**values))
    if result.rowcount != 1:
        db.session.rollback()
        return False
    image = db.session.get(Image, image_id)
    db.session.refresh(image)
    add_event(image, status, code, message)
    if status is ImageStatus.FAILED:
        outbox.record(image, IMAGE_FAILED)
    commit_and_publish(image)
    return True


def remove_unrecorded_variants(image_id: str) -> None:
    """Delete the image's variant files no variant row names: an earlier rendering's, or an interrupted attempt's."""
    image = db.session.get(Image, image_id, populate_existing=True)
    recorded = {variant.key for variant in image.variants} if image else set()
    db.session.rollback()
    storage = get_storage()
    # Every rendering of the image lives in its folder, whatever its digest: one listing finds them all.
    for key in list(storage.keys(f"variants/{image_id}/")):
        if key not in recorded:
            storage.delete(key)
