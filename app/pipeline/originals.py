"""Reading an original for processing: capped, and checked again, because the stored object is what gets rendered."""

import io

from flask import current_app

from app.exceptions import InvalidImage, TooLarge
from app.imaging import sniff
from app.models import Image
from app.storage import Storage


def read_original(storage: Storage, image: Image) -> bytes:
    """The original's bytes, refused (permanently) when over MAX_UPLOAD_BYTES, not what was recorded, or no image."""
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    try:
        with storage.open(image.original_key) as original:
            # One byte past the limit is enough to know: never read all of what may have been swapped in.
            source = original.read(limit + 1)
    except FileNotFoundError:
        raise InvalidImage("The original file is missing from storage.") from None
    if len(source) > limit:
        raise TooLarge(f"The stored original is larger than the limit of {limit} bytes.")
    if len(source) != image.bytes:
        raise InvalidImage(f"The stored original is {len(source)} bytes, not the {image.bytes} checked at upload.")
    # The header is checked again on what will be decoded, not on what was checked at upload.
    sniff(io.BytesIO(source), current_app.config["MAX_IMAGE_PIXELS"], current_app.config["MAX_FRAMES"])
    return source
