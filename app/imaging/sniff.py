"""Identify an upload from its header alone, and the header checks decoding repeats."""

from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image

from app.imaging.errors import TooManyFrames, TooManyPixels, pillow_errors
from app.imaging.formats import ALLOWED_FORMATS, CONTENT_TYPES, EXTENSIONS


@dataclass(frozen=True)
class Header:
    """What sniffing learned from an image's header."""

    format: str
    width: int
    height: int

    @property
    def content_type(self) -> str:
        """The MIME type of the original."""
        return CONTENT_TYPES[self.format]

    @property
    def extension(self) -> str:
        """The file extension of the original, without a dot."""
        return EXTENSIONS[self.format]


def sniff(source: BinaryIO, max_pixels: int, max_frames: int | None = None) -> Header:
    """Identify the image from its header alone, without decoding pixels."""
    source.seek(0)
    try:
        with pillow_errors(), Image.open(source, formats=ALLOWED_FORMATS) as image:
            check_pixels(image, max_pixels)
            if max_frames is not None:
                # Counting GIF frames skips their data blocks without decoding: ~3 us a frame, < 3 s for 25 MiB.
                check_frames(image, max_frames)
            return Header(image.format, image.width, image.height)
    finally:
        source.seek(0)


def check_pixels(image: Image.Image, max_pixels: int) -> None:
    """Refuse, from the header alone, an image with more pixels than allowed (or than Pillow's own guard allows)."""
    # Capped here too, so the guard holds even where the warnings filter has been reset (pytest does).
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    if image.width * image.height > limit:
        raise TooManyPixels(f"The image is {image.width}x{image.height}, more than the limit of {limit:,} pixels.")


def check_frames(image: Image.Image, max_frames: int) -> None:
    """Refuse an animation with more frames than allowed; only the first is used, but all are parsed."""
    frames = getattr(image, "n_frames", 1)
    if frames > max_frames:
        raise TooManyFrames(f"The image has {frames} frames, more than the limit of {max_frames}.")
