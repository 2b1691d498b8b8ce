"""Decode an upload once: the first frame upright, in sRGB, in a mode that resamples fast, no larger than needed.

Metadata: EXIF orientation is applied to the pixels; an embedded ICC profile is converted to sRGB with LittleCMS
and then dropped, so variants are untagged sRGB, which is what browsers assume; a profile LittleCMS cannot read
is ignored and the pixels are used as they are.

Speed: JPEGs decode at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling) and other formats are box-reduced by whole
factors, in both cases never below what the largest variant needs.
"""

import io
import warnings
from functools import cache
from typing import BinaryIO

from PIL import Image, ImageCms

from app.imaging.formats import ALLOWED_FORMATS
from app.imaging.sniff import check_frames, check_pixels

# Pillow only warns between its MAX_IMAGE_PIXELS (~89 MP) and twice that; in every process that imports this
# module (web and worker alike) that warning is an error, which pillow_errors turns into TooManyPixels.
warnings.simplefilter("error", Image.DecompressionBombWarning)

# EXIF orientation -> the transpose that makes the stored pixels upright.
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
EXIF_ORIENTATION = 0x0112
SWAPS_AXES = frozenset({5, 6, 7, 8})
_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


def decode(stream: BinaryIO, largest: int | None, max_pixels: int, max_frames: int) -> tuple[Image.Image, int, int]:
    """Load the first frame upright, in sRGB and L/RGB/RGBa, no larger than the largest variant needs."""
    stream.seek(0)
    with Image.open(stream, formats=ALLOWED_FORMATS) as image:
        check_pixels(image, max_pixels)
        check_frames(image, max_frames)
        orientation = image.getexif().get(EXIF_ORIENTATION, 1)
        width, height = image.size
        if largest:
            # The box is square, so the target is the same in the stored and the upright frame.
            image.draft(None, fit(width, height, largest))
        image.load()
        picture = normalize(image)
    if largest:
        picture = box_reduce(picture, fit(width, height, largest))
    if orientation in UPRIGHT:
        picture = picture.transpose(UPRIGHT[orientation])
    if orientation in SWAPS_AXES:
        width, height = height, width
    return picture, width, height


def normalize(image: Image.Image) -> Image.Image:
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


def fit(width: int, height: int, box: int) -> tuple[int, int]:
    """The size that fits a box x box square with the aspect ratio kept, never larger than the original."""
    if width <= box and height <= box:
        return width, height
    if width >= height:
        return box, max(1, round(height * box / width))
    return max(1, round(width * box / height)), box


def box_reduce(picture: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Average whole blocks of pixels while the picture stays at least the target size, as JPEG draft does."""
    factor = min(picture.width // target[0], picture.height // target[1])
    return picture.reduce(factor) if factor > 1 else picture
