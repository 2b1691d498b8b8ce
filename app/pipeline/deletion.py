"""Deleting an image: its running job stopped, files first, then the row, retryable until the files are gone.

One function for the API, the pages and the CLI; the reconciler finishes deletions a storage outage interrupted.
The row is marked `deleting` before any file goes: from then on clients see a 404, no job claims it, and a failure
midway leaves a row that says what is left to do (a retried DELETE, or the reconciler, does it).
"""

import logging

from sqlalchemy import delete, update

from app.extensions import db
from app.models import Image, ImageStatus
from app.pipeline import records
from app.pipeline.access import Principal
from app.pipeline.jobs import stop_processing
from app.pipeline.listing import visible
from app.pipeline.notify import publish_status
from app.pipeline.webhooks import IMAGE_DELETED, outbox
from app.storage import delete_image_files, get_storage

log = logging.getLogger(__name__)


def delete_image(image_id: str, principal: Principal | None = None) -> bool:
    """Delete an image's files, then its row; False if principal sees no such image (StorageUnavailable: retry)."""
    image = db.session.get(Image, image_id)
    if not visible(image, principal):
        return False
    original, owner_id = image.original_key, image.owner_id
    key_id = principal.key_id if principal else None
    if image.status != ImageStatus.DELETING.value:
        mark_deleting(image, key_id)
    # A job still rendering the image is stopped (its work horse killed), so a deleted image frees its worker now
    # rather than at JOB_TIMEOUT; the files go only once it has stopped, so it cannot write one after them.
    stop_processing(image_id)
    # The events go with the row: this line is the lasting record of who deleted the image.
    log.info("deleting image %s of owner %s for %s", image_id, owner_id, f"key {key_id}" if key_id else "an operator")
    finish_deletion(image_id, original)
    return True


def mark_deleting(image: Image, key_id: str | None = None) -> None:
    """Commit the row as `deleting` (hidden, unclaimable), naming the deleting key, and wake anyone long-polling it."""
    image_id = image.id
    db.session.execute(update(Image).where(Image.id == image_id).values(status=ImageStatus.DELETING.value))
    records.add_event(image, ImageStatus.DELETING, message="deletion requested", key_id=key_id)
    db.session.commit()
    publish_status(image_id, ImageStatus.DELETING.value)


def finish_deletion(image_id: str, original: str) -> None:
    """Remove the image's files, then its row (its variants and events go with it, by cascade)."""
    delete_image_files(get_storage(), image_id, original)
    # A plain DELETE: a concurrent deletion that got here first leaves nothing to do, not a StaleDataError.
    image = db.session.get(Image, image_id)
    if image is not None:
        # The resource as it was, announced in the DELETE's own transaction.
        outbox.record(image, IMAGE_DELETED, status="deleted")
    result = db.session.execute(delete(Image).where(Image.id == image_id))
    if result.rowcount == 1:
        db.session.commit()
    else:
        db.session.rollback()  # a concurrent deletion got here first, and announced it
    log.info("image %s deleted", image_id)
