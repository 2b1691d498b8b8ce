"""Encode one picture into each output format, with no metadata at all.

WebP uses encoder method 1 for variants over 1.2 MP (about 3x faster than the default 4 at the same quality setting)
and method 2 for the smaller ones: 5% more bytes than method 4 on the test corpus (bench/, `make bench`). AVIF uses
its own quality scale (AVIF_QUALITY) and libaom's fastest speed: see AVIF_QUALITY below.
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from app.imaging.formats import OUTPUT_FORMATS

# WebP encoder method (0 fastest .. 6 smallest) by variant size; the default is 4. Variants past WEBP_LARGE_PIXELS
# take most of the encoding time, so they get method 1; smaller ones get method 2, which saves bytes where it costs
# little time. On the corpus (bench/): method 1 everywhere is +7.0% bytes vs method 4, this split +5.1% for +2% time,
# method 2 everywhere +2.6% for +8% time.
WEBP_METHOD_LARGE = 1
WEBP_METHOD_SMALL = 2
WEBP_LARGE_PIXELS = 1_200_000
# AVIF quality 65 at speed 10 (libaom's fastest): 12.8% fewer bytes than WebP quality 80 at a 0.3 dB higher mean
# PSNR (36.6 vs 36.3 dB, 8 corpus photos x 4 sizes), for 1.7x WebP's encode time. Speed 8 saves 2.7% more bytes
# for 3x the time, speed 6 (Pillow's default) 6% more for 9.5x (`make bench`, table 6).
AVIF_QUALITY = 65
AVIF_SPEED = 10
# One encoder thread: a worker runs one job at a time and WORKERS matches the cores, so more threads only contend.
AVIF_THREADS = 1


@dataclass(frozen=True)
class EncodedFile:
    """One variant encoded in one format."""

    format: str
    content_type: str
    extension: str
    data: bytes

    @property
    def bytes(self) -> int:
        """The encoded size, as the API reports it."""
        return len(self.data)


@dataclass(frozen=True)
class OutputSettings:
    """The formats variants are stored in (preference order) and their encoders' settings."""

    formats: tuple[str, ...] = ("webp",)
    quality: int = 80
    avif_quality: int = AVIF_QUALITY
    avif_speed: int = AVIF_SPEED

    def __post_init__(self) -> None:
        unknown = [name for name in self.formats if name not in OUTPUT_FORMATS]
        if not self.formats or unknown:
            raise ValueError(f"output formats must be among {', '.join(OUTPUT_FORMATS)}, not {self.formats!r}")

    @property
    def animated_formats(self) -> tuple[str, ...]:
        """The formats an animated variant is stored in (only these can hold an animation)."""
        return tuple(name for name in self.formats if OUTPUT_FORMATS[name].can_animate)


def output_settings(formats: str | Sequence[str], quality: int, avif_quality: int, avif_speed: int) -> OutputSettings:
    """Settings from one format name or several in preference order."""
    names = (formats,) if isinstance(formats, str) else tuple(formats)
    return OutputSettings(names, quality, avif_quality, avif_speed)


def encode_still(picture: Image.Image, settings: OutputSettings) -> tuple[EncodedFile, ...]:
    """The picture in every output format, in preference order."""
    return tuple(_encode(picture, name, settings) for name in settings.formats)


def _encode(picture: Image.Image, name: str, settings: OutputSettings) -> EncodedFile:
    """One format's encoding of the picture."""
    output = OUTPUT_FORMATS[name]
    pillow_format = output.pillow_format
    options: dict = {"quality": settings.quality}
    if pillow_format == "WEBP":
        options["method"] = webp_method(picture.width, picture.height)
    elif pillow_format == "AVIF":
        options = {"quality": settings.avif_quality, "speed": settings.avif_speed, "max_threads": AVIF_THREADS}
    if picture.mode == "RGBa":
        picture = flatten(picture) if pillow_format == "JPEG" else picture.convert("RGBA")
    buffer = io.BytesIO()
    picture.save(buffer, pillow_format, **options)
    return EncodedFile(name, output.content_type, output.extension, buffer.getvalue())


def webp_method(width: int, height: int) -> int:
    """The WebP encoder method for a variant of this size: fast for large variants, thorough for small ones."""
    return WEBP_METHOD_LARGE if width * height > WEBP_LARGE_PIXELS else WEBP_METHOD_SMALL


def flatten(picture: Image.Image) -> Image.Image:
    """Composite premultiplied (or straight) alpha onto white, for outputs without alpha."""
    straight = picture.convert("RGBA") if picture.mode != "RGBA" else picture
    background = Image.new("RGB", picture.size, (255, 255, 255))
    background.paste(straight, mask=straight.getchannel("A"))
    return background
