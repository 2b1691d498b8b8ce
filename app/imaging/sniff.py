"""Identify an upload from its header alone, and the header checks decoding repeats.

The first bytes choose the reader: an ISO base media file (`ftyp` box) is HEIF or AVIF by its brands, and opens
with that one reader (loading its plug-in if it needs one); anything else may only be one of Pillow's JPEG, PNG,
WebP and GIF readers. No upload reaches Pillow's rarer plugins (TIFF, PSD, EPS, ...).
"""

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

# The readers of every allowed format, imported here so that Image.open(formats=...) finds them registered.
from PIL import (
    AvifImagePlugin,  # noqa: F401
    GifImagePlugin,  # noqa: F401
    Image,
    JpegImagePlugin,  # noqa: F401
    MpoImagePlugin,  # noqa: F401
    PngImagePlugin,  # noqa: F401
    WebPImagePlugin,  # noqa: F401
)

from app.imaging.errors import TooManyFrames, TooManyPixels, UnsupportedType, pillow_errors
from app.imaging.formats import (
    ALLOWED_FORMATS,
    BY_PILLOW_FORMAT,
    CONTENT_TYPES,
    EXTENSIONS,
    WORKING_MODES,
    input_format,
)
from app.imaging.layout import check_layout, read_layout
from app.imaging.plugins import ensure_reader

# Pillow formats of ISO base media files -> the ftyp brands (major or compatible) that call for them. AVIF files
# also name the generic HEIF brands (mif1, msf1), so AVIF comes first.
BRANDS = {
    "AVIF": frozenset({b"avif", b"avis"}),
    "HEIF": frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}),
}
# The readers for every other file.
PLAIN_FORMATS = tuple(name for name in ALLOWED_FORMATS if name not in BRANDS)
# Enough of the file for the ftyp box of any real HEIF or AVIF file.
HEAD_BYTES = 256


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
    """Identify the image without decoding pixels: from its header, and with max_frames from every frame's too."""
    source.seek(0)
    try:
        if max_frames is not None:
            # Every frame descriptor is read, skipping pixel data: ~3 us a GIF frame, < 3 s for 25 MiB. Without
            # max_frames (a direct upload, read lazily from the bucket) the header alone; the worker reads the rest.
            check_layout(read_layout(source, max_frames), pixel_limit(max_pixels))
        with pillow_errors(), open_image(source) as image:
            check_pixels(image, max_pixels)
            if max_frames is not None:
                check_frames(image, max_frames)
            # MPO is a JPEG: the canonical name of its format is what the original is recorded as.
            return Header(input_format(image.format).pillow_formats[0], image.width, image.height)
    finally:
        source.seek(0)


@contextmanager
def open_image(source: BinaryIO) -> Iterator[Image.Image]:
    """Open an upload with only the reader its first bytes call for; refuse anything else, or an odd pixel mode."""
    source.seek(0)
    head = source.read(HEAD_BYTES)
    source.seek(0)
    formats = readers_for(head)
    with Image.open(source, formats=formats) as image:
        if image.mode not in WORKING_MODES:
            raise UnsupportedType(f"Images with {image.mode} pixels are not supported.")
        yield image


def readers_for(head: bytes) -> tuple[str, ...]:
    """The Pillow formats that may open a file starting with these bytes (its plug-in loaded, if it needs one)."""
    brands = ftyp_brands(head)
    if not brands:
        return PLAIN_FORMATS
    for pillow_format, known in BRANDS.items():
        if brands & known:
            ensure_reader(BY_PILLOW_FORMAT[pillow_format])
            return (pillow_format,)
    raise UnsupportedType()


def ftyp_brands(head: bytes) -> frozenset[bytes]:
    """The major and compatible brands of an ISO base media file's ftyp box; empty for any other file."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return frozenset()
    (size,) = struct.unpack(">I", head[:4])
    box = head[8 : min(size, len(head))]
    # major brand, minor version, then compatible brands, four bytes each
    return frozenset([box[:4], *(box[i : i + 4] for i in range(8, len(box) - 3, 4))])


def pixel_limit(max_pixels: int) -> int:
    """MAX_IMAGE_PIXELS, capped by Pillow's own guard."""
    # Capped here too, so the guard holds even where the warnings filter has been reset (pytest does).
    return min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)


def check_pixels(image: Image.Image, max_pixels: int) -> None:
    """Refuse, from the header alone, an image with more pixels than allowed (or than Pillow's own guard allows)."""
    limit = pixel_limit(max_pixels)
    if image.width * image.height > limit:
        raise TooManyPixels(f"The image is {image.width}x{image.height}, more than the limit of {limit:,} pixels.")


def check_frames(image: Image.Image, max_frames: int) -> None:
    """Refuse an animation with more frames than allowed."""
    frames = getattr(image, "n_frames", 1)
    if frames > max_frames:
        raise TooManyFrames(f"The image has {frames} frames, more than the limit of {max_frames}.")
