"""The JSON shape of an image, as the API and the pages show it."""

from datetime import datetime

from flask import current_app

from app.models import Image
from app.storage import get_storage


def iso(moment: datetime | None) -> str | None:
    """An ISO 8601 UTC timestamp, or None."""
    return moment.isoformat(timespec="milliseconds") + "Z" if moment else None


def original_url(image: Image) -> str | None:
    """Where the original can be fetched, or None while originals are private (the default)."""
    if not current_app.config["SERVE_ORIGINALS"]:
        return None
    return get_storage().url(image.original_key)


def image_resource(image: Image) -> dict:
    """The image as the API returns it."""
    storage = get_storage()
    error = {"code": image.error_code, "message": image.error_message} if image.error_code else None
    return {
        "id": image.id,
        "status": image.status,
        "filename": image.filename,
        "content_type": image.content_type,
        "bytes": image.bytes,
        "width": image.width,
        "height": image.height,
        "created_at": iso(image.created_at),
        "updated_at": iso(image.updated_at),
        "attempts": image.attempts,
        "error": error,
        "original_url": original_url(image),
        "variants": {
            variant.name: {
                "url": storage.url(variant.key),
                "width": variant.width,
                "height": variant.height,
                "format": variant.format,
                "bytes": variant.bytes,
                "animated": variant.animated,
                "frames": variant.frames,
            }
            for variant in image.variants
        }
        if image.status == "done"
        else {},
    }


def event_resource(event) -> dict:
    """One history entry of an image."""
    return {
        "at": iso(event.at),
        "status": event.status,
        "attempt": event.attempt,
        "error_code": event.error_code,
        "message": event.message,
    }
