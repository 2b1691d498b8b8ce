"""Table 6: output formats on the corpus, one core: each format's speed, bytes and quality; AVIF's settings;
what placeholders and cover crops cost.

Rows "render": render_variants of the default variant set in that one format (decode, resize and encode), timed
over the corpus (best of the rounds per photo); bytes summed; quality the mean PSNR of every variant against an
un-encoded full-resolution Lanczos resize (bench/quality.py). Rows "encode": the encoder alone on those ideal
resizes, for the AVIF speed and quality settings around the default, next to WebP at quality 80: the data behind
AVIF_QUALITY and AVIF_SPEED (equal PSNR, fewer bytes).
"""

import io
import time

from PIL import Image

from app.imaging import AVIF_QUALITY, AVIF_SPEED, parse_variant_specs, render_variants, webp_method
from app.imaging.placeholders import make_placeholder
from bench import quality
from bench.pipelines import QUALITY, SPECS
from bench.report import Table
from bench.throughput import pin_to_one_core

FORMATS = ("avif", "webp", "jpeg")
AVIF_SETTINGS = ((AVIF_QUALITY, AVIF_SPEED), (AVIF_QUALITY, 8), (AVIF_QUALITY, 6), (60, 6), (68, AVIF_SPEED))
COVER_SPECS = parse_variant_specs("thumb:160,small:480,medium:1024,large:2048,avatar:256x256:cover")


def measure(photos, rounds: int) -> Table:
    """Every row of table 6, pinned to one core."""
    cpu = pin_to_one_core()
    table = Table(
        "outputs",
        f"6. Output formats: {len(photos)} photos, one core, per photo best of {rounds}",
        ["step", "format", "settings", "seconds", "images/s", "output bytes", "bytes vs webp", "mean PSNR dB"],
    )
    references = [quality.ideal(source) for _, source, _ in photos]
    renders = {name: _render_row(photos, references, name, rounds) for name in FORMATS}
    encodes = [_encode_row(references, "webp", QUALITY, None)]
    encodes += [_encode_row(references, "avif", q, speed) for q, speed in AVIF_SETTINGS]
    webp_bytes = {"render": renders["webp"]["output bytes"], "encode": encodes[0]["output bytes"]}
    for row in [*renders.values(), *encodes]:
        change = (row["output bytes"] - webp_bytes[row["step"]]) / webp_bytes[row["step"]]
        table.add(**row, **{"bytes vs webp": f"{100 * change:+.1f}%"})
    default_avif, webp = encodes[1], encodes[0]
    table.judge(
        f"AVIF (q{AVIF_QUALITY}, speed {AVIF_SPEED}) >= 10% smaller than WebP q{QUALITY} within 0.3 dB PSNR"
        f" ({default_avif['output bytes'] / webp['output bytes'] - 1:+.1%},"
        f" {default_avif['mean PSNR dB'] - webp['mean PSNR dB']:+.2f} dB)",
        default_avif["output bytes"] <= 0.9 * webp["output bytes"]
        and default_avif["mean PSNR dB"] >= webp["mean PSNR dB"] - 0.3,
    )
    _judge_extras(table, photos)
    table.notes.append(f"pinned to CPU {cpu}" if cpu is not None else "not pinned (no sched_setaffinity)")
    return table


def _render_row(photos, references, name: str, rounds: int) -> dict:
    """render_variants in one format over the corpus: time, bytes, mean PSNR."""
    best = [float("inf")] * len(photos)
    for _ in range(rounds):
        for index, (_, source, _) in enumerate(photos):
            started = time.perf_counter()
            render_variants(source, SPECS, name, QUALITY)
            best[index] = min(best[index], time.perf_counter() - started)
    total, scores = 0, []
    for (_, source, _), ideal in zip(photos, references, strict=True):
        for spec, variant in zip(SPECS, render_variants(source, SPECS, name, QUALITY).variants, strict=True):
            total += variant.bytes
            scores.append(quality.psnr(Image.open(io.BytesIO(variant.data)), ideal[spec.max_size]))
    seconds = sum(best)
    return _row("render", name, "defaults", seconds, len(photos) / seconds, total, scores)


def _encode_row(references, name: str, quality_setting: int, speed: int | None) -> dict:
    """The encoder alone on the ideal resizes."""
    seconds, total, scores = 0.0, 0, []
    for ideal in references:
        for picture in ideal.values():
            buffer = io.BytesIO()
            started = time.perf_counter()
            if name == "avif":
                picture.save(buffer, "AVIF", quality=quality_setting, speed=speed, max_threads=1)
            else:
                picture.save(buffer, "WEBP", quality=quality_setting, method=webp_method(*picture.size))
            seconds += time.perf_counter() - started
            total += buffer.tell()
            scores.append(quality.psnr(Image.open(buffer), picture))
    settings = f"q{quality_setting}" + (f", speed {speed}" if speed is not None else ", Pixline's method")
    return _row("encode", name, settings, seconds, len(references) / seconds, total, scores)


def _row(step, name, settings, seconds, rate, total, scores) -> dict:
    """One table row."""
    mean = round(sum(scores) / len(scores), 2)
    return {"step": step, "format": name, "settings": settings, "seconds": round(seconds, 3),
            "images/s": round(rate, 2), "output bytes": total, "mean PSNR dB": mean}  # fmt: skip


def _judge_extras(table: Table, photos) -> None:
    """Placeholders under 5% of processing; what one cover crop adds."""
    placeholder_seconds, render_seconds, cover_seconds = 0.0, 0.0, 0.0
    for _, source, _ in photos:
        started = time.perf_counter()
        rendered = render_variants(source, SPECS, ("avif", "webp"), QUALITY)
        render_seconds += time.perf_counter() - started
        smallest = Image.open(io.BytesIO(min(rendered.variants, key=lambda v: v.width).files[-1].data))
        smallest.load()
        started = time.perf_counter()
        make_placeholder(smallest.convert("RGB"))
        placeholder_seconds += time.perf_counter() - started
        started = time.perf_counter()
        render_variants(source, COVER_SPECS, ("avif", "webp"), QUALITY)
        cover_seconds += time.perf_counter() - started
    share = placeholder_seconds / render_seconds
    table.judge(
        f"placeholders < 5% of processing ({share:.2%}, {1000 * placeholder_seconds / len(photos):.1f} ms an image)",
        share < 0.05,
    )
    extra = cover_seconds / render_seconds - 1
    table.notes.append(f"a 256x256 smart cover crop beside the default set (avif,webp): {extra:+.1%} processing time")
