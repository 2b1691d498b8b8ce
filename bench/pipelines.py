"""The image pipelines the benchmarks compare: Pixline's, plain Pillow's, pyvips' and the decode-only floor.

Each takes the encoded source and returns the encoded size of every variant (the decode floors return none).
"""

import io
import os
from collections.abc import Callable

from PIL import Image, ImageOps

from app.imaging import parse_variant_specs, render_variants, webp_method

VARIANTS = "thumb:160,small:480,medium:1024,large:2048"
SPECS = parse_variant_specs(VARIANTS)
SIZES = tuple(spec.max_size for spec in SPECS)
FORMAT, QUALITY = "webp", 80


def pixline(source: bytes) -> list[int]:
    """Pixline's render_variants with the default variant set, format and quality."""
    return [variant.bytes for variant in render_variants(source, SPECS, FORMAT, QUALITY).variants]


def plain_pillow(source: bytes) -> list[int]:
    """The textbook pipeline: open, exif_transpose, load, then per size copy + thumbnail(LANCZOS) + save."""
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(source)))
    image.load()
    sizes = []
    for size in SIZES:
        variant = image.copy()
        variant.thumbnail((size, size), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        variant.save(buffer, "WEBP", quality=QUALITY)
        sizes.append(buffer.tell())
    return sizes


def pyvips_per_size(source: bytes, same_effort: bool = False) -> list[int]:
    """libvips' thumbnail_buffer once per size (shrink-on-load, auto-rotate), WebP at the same quality.

    WebP effort is libvips' default (4, as plain Pillow's method), or with same_effort the method Pixline picks.
    """
    pyvips = _pyvips()
    sizes = []
    for size in SIZES:
        variant = pyvips.Image.thumbnail_buffer(source, size, height=size, size="down")
        effort = webp_method(variant.width, variant.height) if same_effort else 4
        sizes.append(len(variant.webpsave_buffer(Q=QUALITY, effort=effort, keep=0)))
    return sizes


def pyvips_same_effort(source: bytes) -> list[int]:
    """pyvips per size with the WebP effort Pixline uses, to separate encoder settings from the rest."""
    return pyvips_per_size(source, same_effort=True)


def decode_full(source: bytes) -> list[int]:
    """The decode-only floor: every pixel of the original, nothing else."""
    with Image.open(io.BytesIO(source)) as image:
        image.load()
    return []


def decode_draft(source: bytes) -> list[int]:
    """Decode only, but at the smallest JPEG DCT scale the largest variant allows (what Pixline decodes)."""
    with Image.open(io.BytesIO(source)) as image:
        scale = max(SIZES) / max(image.size)
        image.draft(None, (round(image.width * scale), round(image.height * scale)))
        image.load()
    return []


def _pyvips():
    """pyvips on one thread and without its operation cache (which would serve repeated rounds for free)."""
    os.environ.setdefault("VIPS_CONCURRENCY", "1")
    import pyvips

    pyvips.cache_set_max(0)
    pyvips.concurrency_set(1)
    return pyvips


PIPELINES: dict[str, Callable[[bytes], list[int]]] = {
    "pixline": pixline,
    "plain-pillow": plain_pillow,
    "pyvips": pyvips_per_size,
    "pyvips-same-effort": pyvips_same_effort,
    "decode-full": decode_full,
    "decode-draft": decode_draft,
}
