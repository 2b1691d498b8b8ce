"""Output quality for table 1: PSNR of each pipeline's decoded variants against an ideal, un-encoded resize."""

import io
import math

from PIL import Image, ImageChops, ImageOps, ImageStat

from app.imaging import render_variants
from bench.pipelines import FORMAT, QUALITY, SIZES, SPECS


def ideal(source: bytes) -> dict[int, Image.Image]:
    """Per size: the full-resolution Lanczos thumbnail, never encoded (the reference both pipelines aim at)."""
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(source)))
    image = image.convert("RGB")
    references = {}
    for size in SIZES:
        reference = image.copy()
        reference.thumbnail((size, size), Image.Resampling.LANCZOS)
        references[size] = reference
    return references


def worst_psnr(photos) -> dict[str, dict[int, float]]:
    """Per pipeline and size, the lowest PSNR (dB) over the photos against the ideal resize."""
    worst = {"pixline": dict.fromkeys(SIZES, 99.0), "plain-pillow": dict.fromkeys(SIZES, 99.0)}
    for _, source, _ in photos:
        references = ideal(source)
        rendered = render_variants(source, SPECS, FORMAT, QUALITY).variants
        for spec, variant in zip(SPECS, rendered, strict=True):
            score = psnr(Image.open(io.BytesIO(variant.data)), references[spec.max_size])
            worst["pixline"][spec.max_size] = min(worst["pixline"][spec.max_size], score)
        for size, reference in references.items():
            buffer = io.BytesIO()
            reference.save(buffer, "WEBP", quality=QUALITY)
            plain = Image.open(buffer)
            worst["plain-pillow"][size] = min(worst["plain-pillow"][size], psnr(plain, reference))
    return worst


def psnr(image: Image.Image, reference: Image.Image) -> float:
    """Peak signal-to-noise ratio in dB over RGB, after matching sizes (rounding may differ by a pixel)."""
    image = image.convert("RGB")
    if image.size != reference.size:
        image = image.resize(reference.size, Image.Resampling.LANCZOS)
    squares = ImageStat.Stat(ImageChops.difference(image, reference)).sum2
    mse = sum(squares) / (3 * reference.width * reference.height)
    return 99.0 if mse == 0 else round(10 * math.log10(255**2 / mse), 1)
