"""What the pages say about a failure: a sentence per error code, the technical detail kept, and whether to retry.

A failure's recorded message is often the decoder's own words ("image file is truncated (0 bytes not processed)");
people get a sentence, and the detail stays one click away. Retrying is offered only where it could succeed: the
failure callback gives up at once on a permanent error (a Pixline error that is not transient), and so do the pages.
"""

from dataclasses import dataclass

from flask import current_app

from app.exceptions import PixlineError
from app.web.sizes import filesize

# Anything that is not a Pixline error ended as processing_error: unexpected, so worth another try.
PROCESSING_ERROR = "processing_error"
SENTENCES = {
    "invalid_image": "The file is damaged or cut short, so it cannot be read as an image. Upload a complete copy.",
    "unsupported_type": "This is not a kind of image this server can read.",
    "too_many_pixels": "The picture is larger than this server processes (at most {megapixels} megapixels).",
    "too_many_frames": "The animation has more frames than this server processes (at most {frames}).",
    "too_large": "The file is larger than this server takes (at most {limit}).",
    "quota_exceeded": "Your storage space is used up: delete some images to make room, then upload again.",
    "unavailable": "The server could not reach its storage just now, so nothing was saved. Try again in a moment.",
    PROCESSING_ERROR: "Something went wrong while making the sizes. Try again; if it fails again, tell the operator.",
}
FALLBACK = "Processing failed."


@dataclass(frozen=True)
class Failure:
    """A failure as a person reads it."""

    code: str
    sentence: str
    detail: str | None
    is_retryable: bool


def describe(error: dict | None) -> Failure | None:
    """The failure of an image resource's `error` ({code, message}), or None when it has none."""
    if not error:
        return None
    code, message = error.get("code") or PROCESSING_ERROR, error.get("message")
    sentence = sentence_for(code)
    return Failure(code, sentence, message if message and message != sentence else None, is_retryable(code))


def sentence_for(code: str) -> str:
    """The sentence for a failure code, with this server's limits filled in."""
    config = current_app.config
    return SENTENCES.get(code, FALLBACK).format(
        megapixels=round(config["MAX_IMAGE_PIXELS"] / 1_000_000),
        frames=config["MAX_FRAMES"],
        limit=filesize(config["MAX_UPLOAD_BYTES"]),
    )


def is_retryable(code: str) -> bool:
    """Whether processing again could succeed: not for a permanent Pixline error (the file itself is the problem)."""
    return code not in permanent_codes()


def permanent_codes() -> set[str]:
    """The codes of every Pixline error that is not transient, as the failure callback judges them."""
    found, pending = set(), [PixlineError]
    while pending:
        error_class = pending.pop()
        pending += error_class.__subclasses__()
        if error_class is not PixlineError and not error_class.is_transient:
            found.add(error_class.code)
    return found


def page_texts() -> dict[str, dict]:
    """Every sentence and whether it may be retried, for upload.js (it describes live rows the same way)."""
    texts = {code: {"sentence": sentence_for(code), "retryable": is_retryable(code)} for code in SENTENCES}
    # "": any other code, as describe() treats it.
    return texts | {"": {"sentence": FALLBACK, "retryable": True}}
