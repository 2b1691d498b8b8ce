"""Decode an upload's first frame once: upright, in sRGB, in a mode that resamples fast, no larger than needed.

Metadata: orientation is applied to the pixels exactly once (EXIF, or HEIF's own irot/imir, as formats.py says per
format); an embedded ICC profile is converted to sRGB with LittleCMS and then dropped, so variants are untagged
sRGB, which is what browsers assume; a profile LittleCMS cannot read is ignored and the pixels used as they are.

Speed: JPEGs decode at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling) and other formats are box-reduced by whole
factors, in both cases never below what the largest variant needs.
"""

import io
import warnings
from functools import cache, lru_cache

from PIL import Image, ImageCms

from app.imaging.errors import UnsupportedType
from app.imaging.formats import WORKING_MODES, InputFormat

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
# Modes LittleCMS converts from an embedded profile (others are converted to RGB(A) first).
_ICC_MODES = frozenset({"L", "RGB", "RGBA", "CMYK"})


def orientation(image: Image.Image, kind: InputFormat) -> int:
    """The EXIF orientation still to apply (1 when the format's reader has applied its own, or EXIF is unreadable)."""
    if not kind.exif_orientation:
        return 1
    try:
        value = image.getexif().get(EXIF_ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError):
        # A broken EXIF block says nothing trustworthy about orientation; the picture itself is fine.
        return 1
    return value if value in UPRIGHT else 1


def upright_size(image: Image.Image, turn: int) -> tuple[int, int]:
    """The image's size once the orientation is applied."""
    width, height = image.size
    return (height, width) if turn in SWAPS_AXES else (width, height)


def first_frame(image: Image.Image, turn: int, largest: int | None) -> Image.Image:
    """Load the first frame upright, in sRGB and L/RGB/RGBa, no larger than the largest variant needs."""
    width, height = image.size
    if largest:
        # The box is square, so the target is the same in the stored and the upright frame.
        image.draft(None, fit(width, height, largest))
    image.load()
    picture = premultiplied(normalize(image))
    if largest:
        picture = box_reduce(picture, fit(width, height, largest))
    return picture.transpose(UPRIGHT[turn]) if turn in UPRIGHT else picture


def normalize(image: Image.Image) -> Image.Image:
    """Convert to sRGB in L, RGB or RGBA; refuse a mode there is no faithful way to convert."""
    target = WORKING_MODES.get(image.mode)
    if target is None:
        raise UnsupportedType(f"Images with {image.mode} pixels are not supported.")
    if target == "L16":
        # Pillow clips 16-bit values to 255 when converting straight to L, so scale them first.
        picture = image.convert("I").point(lambda value: value / 257).convert("L")
    elif image.mode in _ICC_MODES and image.info.get("icc_profile"):
        picture = to_srgb(image, image.info["icc_profile"])
    else:
        if target in ("L", "RGB") and image.has_transparency_data:
            target = "RGBA"
        picture = image if image.mode == target else image.convert(target)
        if picture.mode in _ICC_MODES and image.info.get("icc_profile"):
            picture = to_srgb(picture, image.info["icc_profile"])
    if picture.mode == "CMYK":
        # The embedded profile was unreadable: the naive conversion is all there is.
        picture = picture.convert("RGB")
    # Encoders fall back to info for ICC profiles and comments; variants must carry neither.
    picture.info = {}
    return picture


def premultiplied(picture: Image.Image) -> Image.Image:
    """RGBA as premultiplied RGBa (resized once here, rather than by Pillow on every resize), or RGB if opaque."""
    if picture.mode != "RGBA":
        return picture
    # Many PNGs carry an alpha channel that is opaque throughout: drop it rather than pay for it.
    is_opaque = picture.getchannel("A").getextrema() == (255, 255)
    return picture.convert("RGB" if is_opaque else "RGBa")


def to_srgb(image: Image.Image, icc_profile: bytes) -> Image.Image:
    """Convert from the embedded ICC profile to sRGB, or leave the pixels alone if it is unreadable."""
    output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
    try:
        return ImageCms.applyTransform(image, _transform(bytes(icc_profile), image.mode, output_mode))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image


@lru_cache(maxsize=16)
def _transform(icc_profile: bytes, input_mode: str, output_mode: str) -> ImageCms.ImageCmsTransform:
    """The LittleCMS transform from a profile to sRGB; built once per profile, since phones embed the same few."""
    embedded = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
    return ImageCms.buildTransform(embedded, _srgb_profile(), input_mode, output_mode)


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
