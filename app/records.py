"""Status transitions of image rows: each one recorded as an event and announced."""

from app.extensions import db
from app.models import Image, ImageEvent, ImageStatus, Variant
from app.notify import publish_status
from app.processing import Rendered
from app.storage import get_storage, variant_key


def add_event(image: Image, status: ImageStatus, error_code: str | None = None, message: str | None = None) -> None:
    """Append a history entry for the image (committed with the caller's transaction)."""
    image.events.append(ImageEvent(status=status.value, attempt=image.attempts, error_code=error_code, message=message))


def commit_and_publish(image: Image) -> None:
    """Commit the session, then tell long-polling clients the image's new status."""
    image_id, status = image.id, image.status
    db.session.commit()
    publish_status(image_id, status)


def mark_done(image: Image, rendered: Rendered) -> None:
    """Record the rendered variants and the original's size; the image is done."""
    stale_keys = {variant.key for variant in image.variants}
    by_name = {variant.name: variant for variant in image.variants}
    for output in rendered.variants:
        row = by_name.pop(output.name, None) or Variant(name=output.name)
        row.key = variant_key(image.id, output.name, output.extension)
        row.width, row.height = output.width, output.height
        row.format, row.bytes = output.format, len(output.data)
        if row.id is None:
            image.variants.append(row)
        stale_keys.discard(row.key)
    for leftover in by_name.values():
        image.variants.remove(leftover)
    image.width, image.height = rendered.width, rendered.height
    image.status = ImageStatus.DONE.value
    image.set_error(None, None)
    add_event(image, ImageStatus.DONE)
    commit_and_publish(image)
    # Files of variants no longer configured (or in another format) go once the rows no longer name them.
    storage = get_storage()
    for key in stale_keys:
        storage.delete(key)


def mark_attempt_failed(image_id: str, code: str, message: str, will_retry: bool) -> None:
    """Record a failed attempt: back to queued when a retry is scheduled, else failed for good."""
    image = db.session.get(Image, image_id)
    if image is None or image.image_status is ImageStatus.DONE:
        return
    status = ImageStatus.QUEUED if will_retry else ImageStatus.FAILED
    image.status = status.value
    image.set_error(code, message)
    add_event(image, status, code, message)
    commit_and_publish(image)


def mark_requeued(image: Image, reason: str) -> None:
    """Put an image back in the queue state (the caller enqueues its job)."""
    image.status = ImageStatus.QUEUED.value
    image.set_error(None, None)
    add_event(image, ImageStatus.QUEUED, message=reason)
    commit_and_publish(image)
