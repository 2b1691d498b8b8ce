"""Pure Pillow image handling: identify uploads from their header, then decode once and render variants.

Safety: every ``Image.open`` passes ``formats=ALLOWED_FORMATS``, so no crafted upload can reach Pillow's
rarer, historically buggier plugins (TIFF, PSD, EPS, ...). Pixel limits are checked from the header
before any decode. Outputs are always re-encoded, so nothing appended to an upload survives.

Metadata: no EXIF, XMP, GPS, comment or ICC profile is written to any variant; EXIF orientation is
applied to the pixels instead. An embedded ICC profile is converted to sRGB with LittleCMS and then
dropped, so variants are untagged sRGB, which is what browsers assume; a profile LittleCMS cannot read
is ignored and the pixels are used as they are.

Speed: JPEGs decode at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling) and other formats are
box-reduced by whole factors, in both cases never below what the largest variant needs. The first
resample of the decoded picture uses Lanczos; every later variant is resampled from the next larger one
with bicubic, which is enough for a source Lanczos already low-passed (44 dB PSNR from a Lanczos resize of
the original on the test corpus, at two thirds of the cost). WebP uses
encoder method 1 for variants over 1.2 MP (about 3x faster than the default 4 at the same quality setting)
and method 2 for the smaller ones: 5% more bytes than method 4 on the test corpus (bench/, `make bench`).
"""

import io
import struct
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import BinaryIO

from PIL import Image, ImageCms, UnidentifiedImageError

from app.exceptions import InvalidImage, TooManyFrames, TooManyPixels, UnsupportedType

# Re-exported: callers name variant specs together with render_variants.
from app.variants import MAX_VARIANT_SIZE, VARIANT_NAME_CHARS, VariantSpec, parse_variant_specs  # noqa: F401

ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF")
CONTENT_TYPES: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
EXTENSIONS: dict[str, str] = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}

# Output format as the API names it -> (Pillow format, extra encoder options).
OUTPUT_FORMATS: dict[str, tuple[str, dict]] = {
    "webp": ("WEBP", {}),
    "jpeg": ("JPEG", {}),
    "png": ("PNG", {}),
}
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
# Pillow only warns between its MAX_IMAGE_PIXELS (~89 MP) and twice that; in every process that imports this
# module (web and worker alike) that warning is an error, which _pillow_errors turns into TooManyPixels.
warnings.simplefilter("error", Image.DecompressionBombWarning)

# EXIF orientation -> the transpose that makes the stored pixels upright.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION = 0x0112
_SWAPS_AXES = frozenset({5, 6, 7, 8})
_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


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


def sniff(source: BinaryIO, max_pixels: int, max_frames: int | None = None) -> Header:
    """Identify the image from its header alone, without decoding pixels."""
    source.seek(0)
    try:
        with _pillow_errors(), Image.open(source, formats=ALLOWED_FORMATS) as image:
            _check_pixels(image, max_pixels)
            if max_frames is not None:
                # Counting GIF frames skips their data blocks without decoding: ~3 us a frame, < 3 s for 25 MiB.
                _check_frames(image, max_frames)
            return Header(image.format, image.width, image.height)
    finally:
        source.seek(0)


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
    with _pillow_errors():
        picture, width, height = _decode(stream, largest, max_pixels, max_frames)
        by_name = {}
        resample = Image.Resampling.LANCZOS
        for spec in ordered:
            size = _fit(width, height, spec.max_size)
            if picture.size != size:
                picture = _resize(picture, size, resample)
                resample = CASCADE_RESAMPLE
            by_name[spec.name] = _encode(spec.name, picture, output_format, quality)
    return Rendered(width, height, tuple(by_name[spec.name] for spec in specs))


@contextmanager
def _pillow_errors() -> Iterator[None]:
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


def _check_pixels(image: Image.Image, max_pixels: int) -> None:
    """Refuse, from the header alone, an image with more pixels than allowed (or than Pillow's own guard allows)."""
    # Capped here too, so the guard holds even where the warnings filter above has been reset (pytest does).
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    if image.width * image.height > limit:
        raise TooManyPixels(f"The image is {image.width}x{image.height}, more than the limit of {limit:,} pixels.")


def _decode(stream: BinaryIO, largest: int | None, max_pixels: int, max_frames: int) -> tuple[Image.Image, int, int]:
    """Load the first frame upright, in sRGB and L/RGB/RGBa, no larger than the largest variant needs."""
    stream.seek(0)
    with Image.open(stream, formats=ALLOWED_FORMATS) as image:
        _check_pixels(image, max_pixels)
        _check_frames(image, max_frames)
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
        width, height = image.size
        if largest:
            # The box is square, so the target is the same in the stored and the upright frame.
            image.draft(None, _fit(width, height, largest))
        image.load()
        picture = _normalize(image)
    if largest:
        picture = _box_reduce(picture, _fit(width, height, largest))
    if orientation in _UPRIGHT:
        picture = picture.transpose(_UPRIGHT[orientation])
    if orientation in _SWAPS_AXES:
        width, height = height, width
    return picture, width, height


def _check_frames(image: Image.Image, max_frames: int) -> None:
    """Refuse an animation with more frames than allowed; only the first is used, but all are parsed."""
    frames = getattr(image, "n_frames", 1)
    if frames > max_frames:
        raise TooManyFrames(f"The image has {frames} frames, more than the limit of {max_frames}.")


def _normalize(image: Image.Image) -> Image.Image:
    """Convert to sRGB in L, RGB or premultiplied RGBa, the modes that resample fast and correctly."""
    icc_profile = image.info.get("icc_profile")
    if icc_profile and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        image = _to_srgb(image, icc_profile)
    if image.mode in _SIXTEEN_BIT_MODES:
        # Pillow clips 16-bit values to 255 when converting straight to L, so scale them first.
        picture = image.convert("I").point(lambda value: value / 257).convert("L")
    elif image.has_transparency_data:
        straight = image if image.mode == "RGBA" else image.convert("RGBA")
        # Many PNGs carry an alpha channel that is opaque throughout: drop it rather than pay for it.
        is_opaque = straight.getchannel("A").getextrema() == (255, 255)
        # Otherwise premultiply once here, rather than have Pillow do it on every resize of the cascade.
        picture = straight.convert("RGB" if is_opaque else "RGBa")
    elif image.mode in ("1", "L"):
        picture = image if image.mode == "L" else image.convert("L")
    else:
        picture = image if image.mode == "RGB" else image.convert("RGB")
    # Encoders fall back to info for ICC profiles and comments; variants must carry neither.
    picture.info = {}
    return picture


def _to_srgb(image: Image.Image, icc_profile: bytes) -> Image.Image:
    """Convert from the embedded ICC profile to sRGB, or leave the pixels alone if it is unreadable."""
    try:
        embedded = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(image, embedded, _srgb_profile(), outputMode=output_mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image


@cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    """The sRGB profile every variant is converted to."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _fit(width: int, height: int, box: int) -> tuple[int, int]:
    """The size that fits a box x box square with the aspect ratio kept, never larger than the original."""
    if width <= box and height <= box:
        return width, height
    if width >= height:
        return box, max(1, round(height * box / width))
    return max(1, round(width * box / height)), box


def _box_reduce(picture: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Average whole blocks of pixels while the picture stays at least the target size, as JPEG draft does."""
    factor = min(picture.width // target[0], picture.height // target[1])
    return picture.reduce(factor) if factor > 1 else picture


def _resize(picture: Image.Image, size: tuple[int, int], resample: Image.Resampling) -> Image.Image:
    """Resample to size, box-reducing first when the picture is far larger."""
    return picture.resize(size, resample, reducing_gap=REDUCING_GAP)


def _encode(name: str, picture: Image.Image, output_format: str, quality: int) -> RenderedVariant:
    """Encode one variant with no metadata at all."""
    pillow_format, options = OUTPUT_FORMATS[output_format]
    if pillow_format == "WEBP":
        options = {**options, "method": webp_method(picture.width, picture.height)}
    if picture.mode == "RGBa":
        picture = _flatten(picture) if pillow_format == "JPEG" else picture.convert("RGBA")
    buffer = io.BytesIO()
    picture.save(buffer, pillow_format, quality=quality, **options)
    return RenderedVariant(
        name=name,
        width=picture.width,
        height=picture.height,
        format=output_format,
        content_type=CONTENT_TYPES[pillow_format],
        extension=EXTENSIONS[pillow_format],
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
