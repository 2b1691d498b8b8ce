"""Finding images for clients: one by id, or a page of the newest, with opaque cursors."""

import base64
from datetime import datetime

from sqlalchemy import select

from app.exceptions import BadRequest, NotFound
from app.extensions import db
from app.models import Image, ImageStatus


def find_image(image_id: str) -> Image:
    """The image with this id, or a 404."""
    image = db.session.get(Image, image_id) if len(image_id) <= 64 else None
    # An image being deleted is gone as far as clients can tell; only DELETE itself still finds it.
    if image is None or image.status == ImageStatus.DELETING.value:
        raise NotFound(f"No image with id {image_id!r}.")
    return image


def newest_images(limit: int, cursor: str | None = None, status: str | None = None) -> tuple[list[Image], str | None]:
    """One page of images, newest first, and the cursor of the next page (None on the last)."""
    query = select(Image).where(Image.status != ImageStatus.DELETING.value)
    query = query.order_by(Image.created_at.desc(), Image.id.desc())
    if status:
        if status not in {s.value for s in ImageStatus} - {ImageStatus.DELETING.value}:
            raise BadRequest(f"Unknown status {status!r}.")
        query = query.where(Image.status == status)
    if cursor:
        query = query.where(_before_cursor(cursor))
    images = db.session.scalars(query.limit(limit + 1)).all()
    next_cursor = encode_cursor(images[limit - 1]) if len(images) > limit else None
    return list(images[:limit]), next_cursor


def encode_cursor(image: Image) -> str:
    """An opaque cursor pointing just after this image in newest-first order."""
    raw = f"{image.created_at.isoformat()}|{image.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _before_cursor(cursor: str):
    """The filter for the items that come after the cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, image_id = raw.split("|", 1)
        created_at = datetime.fromisoformat(moment)
    except ValueError:
        raise BadRequest("The cursor is not one this API issued.") from None
    return (Image.created_at < created_at) | ((Image.created_at == created_at) & (Image.id < image_id))
