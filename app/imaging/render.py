"""Render variants from one decode: resample largest first, each later variant from the one before, then encode.

Safety: outputs are always re-encoded with no EXIF, XMP, GPS, comment or ICC profile, so nothing appended to an
upload, and none of its metadata, survives.

Speed: the first resample of the decoded picture uses Lanczos; every later variant is resampled from the next larger
one with bicubic, which is enough for a source Lanczos already low-passed (44 dB PSNR from a Lanczos resize of the
original on the test corpus, at two thirds of the cost). Cover crops are cut from the whole picture at the step of
the cascade that still has enough pixels for them, so they join the cascade without breaking it. Each picture is
then encoded in every output format (encode.py).
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from math import ceil
from typing import BinaryIO

from PIL import Image

from app.imaging.animation import AnimatedWebP, frame_count, frames, loop_count, webp_frame_count
from app.imaging.crop import SMART, cover_geometry, window_origin
from app.imaging.decode import first_frame, fit, orientation, upright_size
from app.imaging.encode import AVIF_QUALITY, AVIF_SPEED, EncodedFile, OutputSettings, encode_still, output_settings
from app.imaging.errors import pillow_errors
from app.imaging.formats import OUTPUT_FORMATS, input_format
from app.imaging.layout import Layout, check_layout, read_layout
from app.imaging.placeholders import Placeholder, make_placeholder
from app.imaging.sniff import check_frames, check_pixels, open_image, pixel_limit
from app.imaging.variants import FIT, VariantSpec

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
# ... and only while each frame's canvas holds at most this many pixels: Pillow's readers keep several whole canvases
# per frame (measured on 7000 x 7000 sources: GIF 17, WebP 24, APNG 27 bytes a pixel, 0.8-1.3 GB), where a still
# needs 4-16. Past it the first frame alone makes still variants.
MAX_ANIMATED_CANVAS = 4096 * 4096


@dataclass(frozen=True)
class RenderedVariant:
    """One variant, encoded in each output format (preference order), ready to store."""

    name: str
    width: int
    height: int
    files: tuple[EncodedFile, ...]
    animated: bool = False
    frames: int = 1
    mode: str = FIT

    @property
    def format(self) -> str:
        """The first format's name (what the API's variant `format` reports)."""
        return self.files[0].format

    @property
    def content_type(self) -> str:
        """The first format's MIME type."""
        return self.files[0].content_type

    @property
    def extension(self) -> str:
        """The first format's file extension."""
        return self.files[0].extension

    @property
    def data(self) -> bytes:
        """The first format's bytes."""
        return self.files[0].data

    @property
    def bytes(self) -> int:
        """The first format's encoded size, as the API reports it."""
        return len(self.files[0].data)


@dataclass(frozen=True)
class Rendered:
    """The upright size of the original, its encoded variants in the order asked for, and its placeholder."""

    width: int
    height: int
    variants: tuple[RenderedVariant, ...]
    placeholder: Placeholder | None = None


@dataclass(frozen=True)
class Plan:
    """How one variant is cut: its output size, its cover window (None: the whole picture) and the edge it needs."""

    size: tuple[int, int]
    window: tuple[int, int] | None
    edge: int


def render_variants(
    source: BinaryIO | bytes,
    specs: Sequence[VariantSpec],
    output_format: str | Sequence[str] = "webp",
    quality: int = 80,
    max_pixels: int = 50_000_000,
    max_frames: int = 1000,
    animation: bool = True,
    max_animation_pixels: int = MAX_ANIMATION_PIXELS,
    avif_quality: int = AVIF_QUALITY,
    avif_speed: int = AVIF_SPEED,
    gravity: str = SMART,
) -> Rendered:
    """Decode once and produce every variant in every format: animated where the upload and the budget allow."""
    settings = output_settings(output_format, quality, avif_quality, avif_speed)
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray | memoryview) else source
    # Every frame's rectangle, before any is decoded: the canvas the decoder will really composite frames on.
    layout = read_layout(stream, max_frames)
    check_layout(layout, pixel_limit(max_pixels))
    # A codec failing with less room left than two RGBA canvases of the largest image allowed (what libwebp takes
    # at once) most likely ran out of memory.
    with pillow_errors(room_needed=8 * pixel_limit(max_pixels)), open_image(stream) as image:
        check_pixels(image, max_pixels)
        check_frames(image, max_frames)
        kind = input_format(image.format)
        turn = orientation(image, kind)
        width, height = upright_size(image, turn)
        plans = {spec.name: _plan(spec, width, height) for spec in specs}
        # Largest first, so each variant can be resampled from the one before it.
        ordered = sorted(specs, key=lambda spec: plans[spec.name].edge, reverse=True)
        count = frame_count(image, kind) if animation and settings.animated_formats else 1
        budget = max_animation_pixels if _is_affordable(count, layout, width * height, max_animation_pixels) else 0
        moving = [spec for spec in ordered if count > 1 and count * _area(plans[spec.name].size) <= budget]
        still = [spec for spec in ordered if spec not in moving]
        cascade = _Cascade((width, height), plans, gravity)
        by_name = _render_still(image, turn, still, cascade, settings) if still else {}
        if moving:
            by_name |= _render_animated(image, turn, moving, cascade, settings)
        placeholder = make_placeholder(cascade.smallest) if cascade.smallest is not None else None
    return Rendered(width, height, tuple(by_name[spec.name] for spec in specs), placeholder)


def _is_affordable(count: int, layout: Layout | None, area: int, max_animation_pixels: int) -> bool:
    """Whether decoding every frame stays within budget: each frame is composited on the whole (real) canvas."""
    canvas = layout.extent_pixels if layout is not None else area
    return canvas <= MAX_ANIMATED_CANVAS and count * canvas <= SOURCE_BUDGET_FACTOR * max_animation_pixels


def _plan(spec: VariantSpec, width: int, height: int) -> Plan:
    """The geometry of one variant of a width x height picture."""
    if not spec.is_cover:
        size = fit(width, height, spec.max_size)
        return Plan(size, None, max(size))
    window, size = cover_geometry(width, height, spec.box)
    # The whole picture must be at least this long for the window to hold the output's pixels.
    edge = min(max(width, height), ceil(max(width, height) * size[0] / window[0]))
    return Plan(size, window, edge)


class _Cascade:
    """Walks the variants largest first: fits replace the whole picture, covers cut from it; remembers the smallest."""

    def __init__(self, full: tuple[int, int], plans: dict[str, Plan], gravity: str) -> None:
        self.full, self.plans, self.gravity = full, plans, gravity
        self.origins: dict[str, tuple[int, int]] = {}
        self.smallest: Image.Image | None = None
        self.tracks_smallest = True

    def shape(self, picture: Image.Image, name: str, is_first: bool) -> tuple[Image.Image, Image.Image]:
        """(the variant's picture, the whole picture to continue the cascade from)."""
        plan = self.plans[name]
        resample = Image.Resampling.LANCZOS if is_first else CASCADE_RESAMPLE
        if plan.window is None:
            shaped = _resize(picture, plan.size, resample) if picture.size != plan.size else picture
            if self.tracks_smallest and (self.smallest is None or shaped.width <= self.smallest.width):
                self.smallest = shaped
            return shaped, shaped
        if name not in self.origins:
            # Chosen once (on the first frame of an animation), so an animated crop does not wander.
            self.origins[name] = window_origin(picture, self.full, plan.window, self.gravity)
        scale_x, scale_y = picture.width / self.full[0], picture.height / self.full[1]
        left, top = self.origins[name]
        box = (left * scale_x, top * scale_y, (left + plan.window[0]) * scale_x, (top + plan.window[1]) * scale_y)
        if picture.size == self.full and plan.window == plan.size:
            return picture.crop(tuple(round(edge) for edge in box)), picture
        return picture.resize(plan.size, resample, box=box, reducing_gap=REDUCING_GAP), picture

    def key(self, name: str) -> tuple:
        """What makes two variants the same picture: their size, and for covers their window."""
        plan = self.plans[name]
        return (plan.size, plan.window and self.origins.get(name))


def _render_still(image, turn: int, specs, cascade: _Cascade, settings: OutputSettings) -> dict[str, RenderedVariant]:
    """The first frame, decoded once at the largest size asked for and resampled down the cascade."""
    picture = first_frame(image, turn, cascade.plans[specs[0].name].edge)
    is_first = True
    by_name, encoded = {}, {}
    for spec in specs:
        shaped, whole = cascade.shape(picture, spec.name, is_first)
        is_first = is_first and whole is picture
        picture = whole
        # Variants that come out as the same picture (an image smaller than several boxes) are encoded once.
        key = cascade.key(spec.name)
        if key not in encoded:
            encoded[key] = RenderedVariant("", *shaped.size, encode_still(shaped, settings), mode=spec.mode)
        by_name[spec.name] = replace(encoded[key], name=spec.name, mode=spec.mode)
    return by_name


def _render_animated(
    image, turn: int, specs, cascade: _Cascade, settings: OutputSettings
) -> dict[str, RenderedVariant]:
    """Every frame, read once and shaped into each animated variant's encoder before the next frame is read."""
    loop = loop_count(image)
    # Variants that come out as the same picture share one encoder (covers never do: each has its own window).
    keys = {spec.name: cascade.plans[spec.name].size if not spec.is_cover else spec.name for spec in specs}
    writers = {}
    for spec in specs:
        if keys[spec.name] not in writers:
            size = cascade.plans[spec.name].size
            writers[keys[spec.name]] = AnimatedWebP(size, loop, settings.quality, ANIMATION_METHOD)
    for frame, duration in frames(image, turn, cascade.plans[specs[0].name].edge):
        picture, is_first, fed = frame, True, set()
        for spec in specs:
            shaped, whole = cascade.shape(picture, spec.name, is_first)
            is_first, picture = is_first and whole is picture, whole
            if keys[spec.name] not in fed:
                writers[keys[spec.name]].add(shaped.convert("RGBA"), duration)
                fed.add(keys[spec.name])
        # The placeholder is the smallest variant's first frame (or a still variant's, if smaller).
        cascade.tracks_smallest = False
    encoded = {key: writer.finish() for key, writer in writers.items()}
    by_name = {}
    for spec in specs:
        data = encoded[keys[spec.name]]
        files = tuple(_animated_file(name, data) for name in settings.animated_formats)
        size = cascade.plans[spec.name].size
        by_name[spec.name] = RenderedVariant(spec.name, *size, files, True, webp_frame_count(data), spec.mode)
    return by_name


def _animated_file(name: str, data: bytes) -> EncodedFile:
    """An animated variant as stored in one of the formats that can animate (WebP)."""
    output = OUTPUT_FORMATS[name]
    return EncodedFile(name, output.content_type, output.extension, data)


def _area(size: tuple[int, int]) -> int:
    """Pixels in a frame of this size."""
    return size[0] * size[1]


def _resize(picture: Image.Image, size: tuple[int, int], resample: Image.Resampling) -> Image.Image:
    """Resample to size, box-reducing first when the picture is far larger."""
    return picture.resize(size, resample, reducing_gap=REDUCING_GAP)
