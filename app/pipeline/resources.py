"""The JSON shape of an image, as the API and the pages show it."""

from datetime import datetime

from flask import current_app

from app.models import Image, Variant
from app.storage import Storage, get_storage


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
    is_done = image.status == "done"
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
        "variants": {variant.name: variant_resource(storage, variant) for variant in image.variants} if is_done else {},
        "srcset": srcsets(storage, image.variants) if is_done else {},
        "placeholder": image.placeholder if is_done else None,
    }


def variant_resource(storage: Storage, variant: Variant) -> dict:
    """One variant: its first format's file, and every format's in preference order (`sources`)."""
    return {
        "url": storage.url(variant.key),
        "width": variant.width,
        "height": variant.height,
        "format": variant.format,
        "bytes": variant.bytes,
        "animated": variant.animated,
        "frames": variant.frames,
        "mode": variant.mode,
        "sources": [
            {
                "format": file.format,
                "content_type": file.content_type,
                "url": storage.url(file.key),
                "bytes": file.bytes,
            }
            for file in variant.files
        ],
    }


def srcsets(storage: Storage, variants: list[Variant]) -> dict[str, str]:
    """Per format, an `<img srcset>` of the fitted variants (cover crops are other pictures), narrowest first."""
    candidates: dict[str, dict[int, str]] = {}
    for variant in sorted(variants, key=lambda variant: variant.width):
        if variant.mode != "fit":
            continue
        for file in variant.files:
            # Variants an image fits alike share a width: one candidate per width.
            candidates.setdefault(file.format, {}).setdefault(variant.width, storage.url(file.key))
    return {
        name: ", ".join(f"{url} {width}w" for width, url in by_width.items()) for name, by_width in candidates.items()
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
