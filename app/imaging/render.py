"""Render variants from one decode: resample largest first, each later variant from the one before, then encode.

Safety: outputs are always re-encoded with no EXIF, XMP, GPS, comment or ICC profile, so nothing appended to an
upload, and none of its metadata, survives.

Speed: the first resample of the decoded picture uses Lanczos; every later variant is resampled from the next larger
one with bicubic, which is enough for a source Lanczos already low-passed (44 dB PSNR from a Lanczos resize of the
original on the test corpus, at two thirds of the cost). WebP uses encoder method 1 for variants over 1.2 MP (about
3x faster than the default 4 at the same quality setting) and method 2 for the smaller ones: 5% more bytes than
method 4 on the test corpus (bench/, `make bench`).
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image

from app.imaging.decode import decode, fit
from app.imaging.errors import pillow_errors
from app.imaging.formats import OUTPUT_FORMATS
from app.imaging.variants import VariantSpec

# WebP encoder method (0 fastest .. 6 smallest) by variant size; the default is 4. Variants past WEBP_LARGE_PIXELS
# take most of the encoding time, so they get method 1; smaller ones get method 2, which saves bytes where it costs
# little time. On the corpus (bench/): method 1 everywhere is +7.0% bytes vs method 4, this split +5.1% for +2% time,
# method 2 everywhere +2.6% for +8% time.
WEBP_METHOD_LARGE = 1
WEBP_METHOD_SMALL = 2
WEBP_LARGE_PIXELS = 1_200_000
# Box-reduce by whole factors while the result stays this many times the target, then Lanczos.
REDUCING_GAP = 2.0
# The filter for variants resampled from an already resampled (so already low-passed) larger variant.
CASCADE_RESAMPLE = Image.Resampling.BICUBIC


@dataclass(frozen=True)
class RenderedVariant:
    """One encoded variant, ready to store."""

    name: str
    width: int
    height: int
    format: str
    content_type: str
    extension: str
    data: bytes

    @property
    def bytes(self) -> int:
        """The encoded size, as the API reports it."""
        return len(self.data)


@dataclass(frozen=True)
class Rendered:
    """The upright size of the original and its encoded variants, in the order asked for."""

    width: int
    height: int
    variants: tuple[RenderedVariant, ...]


def render_variants(
    source: BinaryIO | bytes,
    specs: Sequence[VariantSpec],
    output_format: str = "webp",
    quality: int = 80,
    max_pixels: int = 50_000_000,
    max_frames: int = 1000,
) -> Rendered:
    """Decode once and produce every variant."""
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output format must be one of {', '.join(OUTPUT_FORMATS)}, not {output_format!r}")
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray | memoryview) else source
    # Largest first, so each variant can be resampled from the one before it.
    ordered = sorted(specs, key=lambda spec: spec.max_size, reverse=True)
    largest = ordered[0].max_size if ordered else None
    with pillow_errors():
        picture, width, height = decode(stream, largest, max_pixels, max_frames)
        by_name = {}
        resample = Image.Resampling.LANCZOS
        for spec in ordered:
            size = fit(width, height, spec.max_size)
            if picture.size != size:
                picture = _resize(picture, size, resample)
                resample = CASCADE_RESAMPLE
            by_name[spec.name] = _encode(spec.name, picture, output_format, quality)
    return Rendered(width, height, tuple(by_name[spec.name] for spec in specs))


def _resize(picture: Image.Image, size: tuple[int, int], resample: Image.Resampling) -> Image.Image:
    """Resample to size, box-reducing first when the picture is far larger."""
    return picture.resize(size, resample, reducing_gap=REDUCING_GAP)


def _encode(name: str, picture: Image.Image, output_format: str, quality: int) -> RenderedVariant:
    """Encode one variant with no metadata at all."""
    output = OUTPUT_FORMATS[output_format]
    pillow_format = output.pillow_format
    options = {"method": webp_method(picture.width, picture.height)} if pillow_format == "WEBP" else {}
    if picture.mode == "RGBa":
        picture = _flatten(picture) if pillow_format == "JPEG" else picture.convert("RGBA")
    buffer = io.BytesIO()
    picture.save(buffer, pillow_format, quality=quality, **options)
    return RenderedVariant(
        name=name,
        width=picture.width,
        height=picture.height,
        format=output_format,
        content_type=output.content_type,
        extension=output.extension,
        data=buffer.getvalue(),
    )


def webp_method(width: int, height: int) -> int:
    """The WebP encoder method for a variant of this size: fast for large variants, thorough for small ones."""
    return WEBP_METHOD_LARGE if width * height > WEBP_LARGE_PIXELS else WEBP_METHOD_SMALL


def _flatten(picture: Image.Image) -> Image.Image:
    """Composite premultiplied pixels onto white, for formats without alpha."""
    straight = picture.convert("RGBA")
    background = Image.new("RGB", picture.size, (255, 255, 255))
    background.paste(straight, mask=straight.getchannel("A"))
    return background
