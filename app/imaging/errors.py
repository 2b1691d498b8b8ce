"""Pixline's coded-error base and the image errors, at the bottom of the dependency graph.

The base lives here because `app.imaging` may import nothing from the rest of `app`; `app.exceptions`
re-exports it as `PixlineError`, so every handler that catches that catches these too.
"""

import struct
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, UnidentifiedImageError

from app.imaging.formats import accepted_names


class PixlineError(Exception):
    """Base error with an HTTP status, a stable code and a readable message."""

    status = 500
    code = "internal_error"
    message = "Something went wrong."
    # Whether a background job that hit this error should try again later.
    is_transient = False

    def __init__(self, message: str | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message

    def to_dict(self) -> dict:
        """The JSON body clients receive."""
        return {"error": {"code": self.code, "message": self.message}}


class UnsupportedType(PixlineError):
    status, code = 415, "unsupported_type"
    message = f"Only {accepted_names('and')} images are accepted."


class TooManyPixels(PixlineError):
    status, code = 422, "too_many_pixels"
    message = "The image has more pixels than the limit."


class InvalidImage(PixlineError):
    status, code = 422, "invalid_image"
    message = "The file is damaged or truncated and cannot be decoded."


class TooManyFrames(InvalidImage):
    status, code = 422, "too_many_frames"
    message = "The animation has more frames than the limit."


@contextmanager
def pillow_errors() -> Iterator[None]:
    """Turn the many ways Pillow fails on hostile input into Pixline's permanent errors."""
    try:
        yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooManyPixels() from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedType() from exc
    # IndexError: Pillow's GIF reader on frames cut short (found by tests/security/test_fuzz.py).
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
        raise InvalidImage(f"The image cannot be decoded: {exc}") from exc
