"""Finding images for clients: one by id, or a page of the newest, with opaque cursors."""

import base64
from datetime import datetime

from sqlalchemy import select

from app.exceptions import BadRequest, NotFound
from app.extensions import db
from app.models import Image, ImageStatus, Variant
from app.pipeline.access import Principal


def visible(image: Image | None, principal: Principal | None) -> bool:
    """Whether the principal may see the image (no principal: an operator, who sees every owner's)."""
    return image is not None and (principal is None or principal.sees(image.owner_id))


def find_image(image_id: str, principal: Principal | None = None) -> Image:
    """The image with this id, or a 404 (another owner's image is answered exactly like a missing one)."""
    image = db.session.get(Image, image_id) if len(image_id) <= 64 else None
    # An image being deleted is gone as far as clients can tell; only DELETE itself still finds it.
    if not visible(image, principal) or image.status == ImageStatus.DELETING.value:
        raise NotFound(f"No image with id {image_id!r}.")
    return image


def newest_images(
    limit: int, cursor: str | None = None, status: str | None = None, principal: Principal | None = None
) -> tuple[list[Image], str | None]:
    """One page of the images the principal sees, newest first, and the cursor of the next page (None on the last)."""
    query = select(Image).where(Image.status != ImageStatus.DELETING.value)
    if principal is not None and not principal.is_admin:
        query = query.where(Image.owner_id == principal.owner_id)
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


def find_variant(image_id: str, name: str) -> Variant:
    """The named variant of a done image, or a 404."""
    image = find_image(image_id)
    variant = next((variant for variant in image.variants if variant.name == name), None)
    if variant is None or image.status != ImageStatus.DONE.value:
        raise NotFound(f"No variant {name!r} of image {image_id!r}.")
    return variant
