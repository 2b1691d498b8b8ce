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
from dataclasses import dataclass, replace
from typing import BinaryIO

from PIL import Image

from app.imaging.animation import AnimatedWebP, frame_count, frames, loop_count, webp_frame_count
from app.imaging.decode import first_frame, fit, orientation, upright_size
from app.imaging.errors import pillow_errors
from app.imaging.formats import OUTPUT_FORMATS, input_format
from app.imaging.sniff import check_frames, check_pixels, open_image
from app.imaging.variants import VariantSpec

# WebP encoder method (0 fastest .. 6 smallest) by variant size; the default is 4. Variants past WEBP_LARGE_PIXELS
# take most of the encoding time, so they get method 1; smaller ones get method 2, which saves bytes where it costs
# little time. On the corpus (bench/): method 1 everywhere is +7.0% bytes vs method 4, this split +5.1% for +2% time,
# method 2 everywhere +2.6% for +8% time.
WEBP_METHOD_LARGE = 1
WEBP_METHOD_SMALL = 2
WEBP_LARGE_PIXELS = 1_200_000
# WebP method for animated frames. WebPAnimEncoder tries several encodings of each frame (key frame or not, two
# disposals) and keeps the smallest; on a 50-frame 800x450 GIF method 1 took 30% longer than 0 for 3-10% fewer bytes.
ANIMATION_METHOD = 0
# Box-reduce by whole factors while the result stays this many times the target, then Lanczos.
REDUCING_GAP = 2.0
# The filter for variants resampled from an already resampled (so already low-passed) larger variant.
CASCADE_RESAMPLE = Image.Resampling.BICUBIC


# Default budget of an animated variant: output frames x width x height. Past it the variant is rendered still.
MAX_ANIMATION_PIXELS = 200_000_000
# The source's frames are decoded only while they hold at most this many times the budget, which bounds the
# decoding time too (a 1000-frame animation of 7000 x 7000 would otherwise be decoded whole for its thumbnail).
SOURCE_BUDGET_FACTOR = 4


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
    animated: bool = False
    frames: int = 1

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
    animation: bool = True,
    max_animation_pixels: int = MAX_ANIMATION_PIXELS,
) -> Rendered:
    """Decode once and produce every variant: animated where the upload and the budget allow, else still."""
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output format must be one of {', '.join(OUTPUT_FORMATS)}, not {output_format!r}")
    output = OUTPUT_FORMATS[output_format]
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray | memoryview) else source
    # Largest first, so each variant can be resampled from the one before it.
    ordered = sorted(specs, key=lambda spec: spec.max_size, reverse=True)
    with pillow_errors(), open_image(stream) as image:
        check_pixels(image, max_pixels)
        check_frames(image, max_frames)
        kind = input_format(image.format)
        turn = orientation(image, kind)
        width, height = upright_size(image, turn)
        sizes = {spec.name: fit(width, height, spec.max_size) for spec in ordered}
        count = frame_count(image, kind) if animation and output.can_animate else 1
        budget = max_animation_pixels if count * width * height <= SOURCE_BUDGET_FACTOR * max_animation_pixels else 0
        moving = [spec for spec in ordered if count > 1 and count * _area(sizes[spec.name]) <= budget]
        still = [spec for spec in ordered if spec not in moving]
        by_name = _render_still(image, turn, still, sizes, output_format, quality) if still else {}
        if moving:
            by_name |= _render_animated(image, turn, moving, sizes, output_format, quality)
    return Rendered(width, height, tuple(by_name[spec.name] for spec in specs))


def _render_still(image, turn: int, specs, sizes, output_format: str, quality: int) -> dict[str, RenderedVariant]:
    """The first frame, decoded once at the largest size asked for and resampled down the cascade."""
    picture = first_frame(image, turn, specs[0].max_size)
    by_name, encoded = {}, {}
    resample = Image.Resampling.LANCZOS
    for spec in specs:
        size = sizes[spec.name]
        if picture.size != size:
            picture = _resize(picture, size, resample)
            resample = CASCADE_RESAMPLE
        # Variants whose boxes the image fits alike are the same picture: encode it once.
        if size not in encoded:
            encoded[size] = _encode(picture, output_format, quality)
        by_name[spec.name] = replace(encoded[size], name=spec.name)
    return by_name


def _render_animated(image, turn: int, specs, sizes, output_format: str, quality: int) -> dict[str, RenderedVariant]:
    """Every frame, read once and resized into each animated variant's encoder before the next frame is read."""
    distinct = list(dict.fromkeys(sizes[spec.name] for spec in specs))
    loop = loop_count(image)
    writers = {size: AnimatedWebP(size, loop, quality, ANIMATION_METHOD) for size in distinct}
    for frame, duration in frames(image, turn):
        picture, resample = frame, Image.Resampling.LANCZOS
        for size in distinct:
            if picture.size != size:
                picture = _resize(picture, size, resample)
                resample = CASCADE_RESAMPLE
            writers[size].add(picture.convert("RGBA"), duration)
    output = OUTPUT_FORMATS[output_format]
    encoded = {}
    for size, writer in writers.items():
        data = writer.finish()
        encoded[size] = RenderedVariant(
            "", *size, output_format, output.content_type, output.extension, data, True, webp_frame_count(data)
        )
    return {spec.name: replace(encoded[sizes[spec.name]], name=spec.name) for spec in specs}


def _area(size: tuple[int, int]) -> int:
    """Pixels in a frame of this size."""
    return size[0] * size[1]


def _resize(picture: Image.Image, size: tuple[int, int], resample: Image.Resampling) -> Image.Image:
    """Resample to size, box-reducing first when the picture is far larger."""
    return picture.resize(size, resample, reducing_gap=REDUCING_GAP)


def _encode(picture: Image.Image, output_format: str, quality: int) -> RenderedVariant:
    """Encode one still variant with no metadata at all (named by the caller)."""
    output = OUTPUT_FORMATS[output_format]
    pillow_format = output.pillow_format
    options = {"method": webp_method(picture.width, picture.height)} if pillow_format == "WEBP" else {}
    if picture.mode == "RGBa":
        picture = _flatten(picture) if pillow_format == "JPEG" else picture.convert("RGBA")
    buffer = io.BytesIO()
    picture.save(buffer, pillow_format, quality=quality, **options)
    return RenderedVariant(
        name="",
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
