"""Output quality for table 1: PSNR of each pipeline's decoded variants against an ideal, un-encoded resize."""

import io
import math

from PIL import Image, ImageChops, ImageOps, ImageStat

from app.imaging import render_variants
from bench.pipelines import FORMATS, QUALITY, SIZES, SPECS, plain_save


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
    """Per pipeline and format ('pixline avif', ...) and size, the lowest PSNR (dB) over the photos vs the ideal."""
    worst = {f"{pipeline} {name}": dict.fromkeys(SIZES, 99.0) for pipeline in PIPELINES for name in FORMATS}
    for _, source, _ in photos:
        references = ideal(source)
        rendered = render_variants(source, SPECS, FORMATS, QUALITY).variants
        for spec, variant in zip(SPECS, rendered, strict=True):
            for file in variant.files:
                score = psnr(Image.open(io.BytesIO(file.data)), references[spec.max_size])
                _keep_worst(worst[f"pixline {file.format}"], spec.max_size, score)
        for size, reference in references.items():
            for name in FORMATS:
                buffer = io.BytesIO()
                plain_save(reference, buffer, name)
                _keep_worst(worst[f"plain-pillow {name}"], size, psnr(Image.open(buffer), reference))
    return worst


PIPELINES = ("pixline", "plain-pillow")


def _keep_worst(by_size: dict[int, float], size: int, score: float) -> None:
    """Lower the size's worst score to this one if it is lower."""
    by_size[size] = min(by_size[size], score)


def psnr(image: Image.Image, reference: Image.Image) -> float:
    """Peak signal-to-noise ratio in dB over RGB, after matching sizes (rounding may differ by a pixel)."""
    image = image.convert("RGB")
    if image.size != reference.size:
        image = image.resize(reference.size, Image.Resampling.LANCZOS)
    squares = ImageStat.Stat(ImageChops.difference(image, reference)).sum2
    mse = sum(squares) / (3 * reference.width * reference.height)
    return 99.0 if mse == 0 else round(10 * math.log10(255**2 / mse), 1)
