"""Pixline's coded-error base and the image errors, at the bottom of the dependency graph.

The base lives here because `app.imaging` may import nothing from the rest of `app`; `app.exceptions`
re-exports it as `PixlineError`, so every handler that catches that catches these too.
"""

import resource
import struct
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, UnidentifiedImageError

from app.imaging.formats import accepted_names

MIB = 1024 * 1024


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


class TooLargeToProcess(PixlineError):
    status, code = 422, "too_large_to_process"
    message = "Processing the image needs more memory than a job may use."


@contextmanager
def pillow_errors(room_needed: int = 0) -> Iterator[None]:
    """Turn the many ways Pillow fails on hostile input into Pixline's permanent errors.

    room_needed: bytes one more picture of this image takes. A codec that fails while the process has less room than
    that left under its memory limit (RLIMIT_DATA) most likely could not allocate: codecs say so in a dozen ways.
    """
    try:
        yield
    except MemoryError as exc:
        raise too_large(exc) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooManyPixels() from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedType() from exc
    # IndexError: Pillow's GIF reader on frames cut short (found by tests/security/test_fuzz.py). RuntimeError: the
    # AVIF and HEIF codecs, which fail that way when they cannot allocate.
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, RuntimeError) as exc:
        if is_out_of_memory(room_needed):
            raise too_large(exc) from exc
        if isinstance(exc, RuntimeError):
            raise
        raise InvalidImage(f"The image cannot be decoded: {exc}") from exc


def too_large(exc: BaseException) -> TooLargeToProcess:
    """TooLargeToProcess, having let go of the pictures the failed attempt's frames still hold."""
    # The failure callback runs while the traceback lives: it must not find the memory still taken.
    traceback.clear_frames(exc.__traceback__)
    limit = memory_limit()
    if limit is None:
        return TooLargeToProcess()
    return TooLargeToProcess(f"Processing the image needs more than the {limit // MIB:,} MB of memory a job may use.")


def is_out_of_memory(room_needed: int) -> bool:
    """Whether the process has less than room_needed bytes left under its memory limit (never, without one)."""
    limit = memory_limit()
    return limit is not None and room_needed > 0 and data_size() + room_needed > limit


def memory_limit() -> int | None:
    """This process's RLIMIT_DATA in bytes, or None when there is none."""
    soft, _ = resource.getrlimit(resource.RLIMIT_DATA)
    return None if soft == resource.RLIM_INFINITY else soft


def data_size() -> int:
    """What RLIMIT_DATA counts now (VmData, Linux); 0 where /proc is missing."""
    try:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmData:"))
    except (OSError, StopIteration):
        return 0
    return int(line.split()[1]) * 1024
