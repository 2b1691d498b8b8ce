"""Table 1: processing throughput on the corpus, one core, every pipeline side by side in each round."""

import os
import time
from pathlib import Path

from PIL import Image

from bench import quality
from bench.pipelines import PIPELINES
from bench.report import Table

REFERENCES = {
    "pixline": "Pixline render_variants (app.imaging)",
    "plain-pillow": "plain Pillow: exif_transpose, load, copy+thumbnail(LANCZOS)+save per size",
    "pyvips": "pyvips thumbnail_buffer per size, WebP effort 4 (default)",
    "pyvips-same-effort": "pyvips thumbnail_buffer per size, WebP effort as Pixline's method per size",
    "decode-full": "decode only, full size (Pillow open+load)",
    "decode-draft": "decode only, JPEG DCT-scaled to the largest variant",
}


def load_corpus(folder: Path, limit: int | None = None) -> list[tuple[str, bytes, float]]:
    """(name, bytes, megapixels) of the photos in the folder (the `limit` smallest), sorted by name."""
    paths = sorted(path for path in folder.iterdir() if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    photos = []
    for path in paths:
        with Image.open(path) as image:
            megapixels = image.width * image.height / 1e6
        photos.append((path.name, path.read_bytes(), megapixels))
    if limit is not None:  # the smallest ones, so a quick run stays quick
        photos = sorted(sorted(photos, key=lambda photo: photo[2])[:limit])
    return photos


def pin_to_one_core() -> int | None:
    """Run on a single CPU so 'per core' means it; returns the CPU or None where affinity is unsupported."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def measure(photos: list[tuple[str, bytes, float]], rounds: int) -> Table:
    """Time each pipeline over the whole corpus, interleaved per round; keep each one's best round."""
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    cpu = pin_to_one_core()
    try:
        best, output = _time_pipelines(photos, rounds)
    finally:
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
    table = _table(photos, rounds, best, output, cpu)
    _judge_quality(table, quality.worst_psnr(photos))
    return table


def _judge_quality(table: Table, worst: dict[str, dict[int, float]]) -> None:
    """Note each pipeline's worst PSNR per size, and whether Pixline stays within 0.5 dB of plain Pillow."""
    for pipeline, by_size in worst.items():
        sizes = ", ".join(f"{size}: {value} dB" for size, value in sorted(by_size.items()))
        table.notes.append(f"worst PSNR vs an un-encoded full-resolution Lanczos resize, {pipeline}: {sizes}")
    gap = max(worst["plain-pillow"][size] - worst["pixline"][size] for size in worst["pixline"])
    table.judge(f"pixline quality within 0.5 dB PSNR of plain at every size (worst gap {gap:.1f} dB)", gap <= 0.5)


def _time_pipelines(photos, rounds: int) -> tuple[dict, dict]:
    """Each pipeline's seconds over the corpus (per photo the best of the rounds), and its output sizes per photo.

    Pipelines alternate photo by photo, so a burst of load from elsewhere hits them all alike.
    """
    best = {name: [float("inf")] * len(photos) for name in PIPELINES}
    output = {name: [0] * len(photos) for name in PIPELINES}
    for pipeline in PIPELINES.values():  # warm-up: imports, codec tables, pyvips start-up
        pipeline(photos[0][1])
    for _ in range(rounds):
        for index, (_, source, _) in enumerate(photos):
            for name, pipeline in PIPELINES.items():
                started = time.perf_counter()
                output[name][index] = sum(pipeline(source))
                best[name][index] = min(best[name][index], time.perf_counter() - started)
    return {name: sum(seconds) for name, seconds in best.items()}, output


def _table(photos, rounds: int, best: dict, output: dict, cpu: int | None) -> Table:
    """Rows relative to the plain pipeline, and the processing targets."""
    megapixels = sum(mp for _, _, mp in photos)
    table = Table(
        "processing",
        f"1. Processing throughput: {len(photos)} photos, {megapixels:.1f} MP, one core, per photo best of {rounds}",
        ["pipeline", "seconds", "images/s", "MP/s", "x plain", "output bytes", "bytes vs plain", "reference"],
    )
    plain_seconds, plain_bytes = best["plain-pillow"], sum(output["plain-pillow"])
    for name, seconds in best.items():
        total = sum(output[name])
        table.add(
            pipeline=name,
            seconds=round(seconds, 3),
            **{"images/s": round(len(photos) / seconds, 3), "MP/s": round(megapixels / seconds, 2)},
            **{"x plain": round(plain_seconds / seconds, 2), "output bytes": total or None},
            **{"bytes vs plain": f"{100 * (total - plain_bytes) / plain_bytes:+.1f}%" if total else None},
            reference=REFERENCES[name],
        )
    pixline, vips = best["pixline"], best["pyvips"]
    bytes_change = (sum(output["pixline"]) - plain_bytes) / plain_bytes
    table.judge(
        f"pixline >= 2.0x plain Pillow images/s ({plain_seconds / pixline:.2f}x)", plain_seconds / pixline >= 2.0
    )
    table.judge(f"pixline ahead of pyvips per size ({vips / pixline:.2f}x)", pixline < vips)
    table.judge(f"pixline total bytes within +-10% of plain ({100 * bytes_change:+.1f}%)", abs(bytes_change) <= 0.10)
    table.notes.append(f"pinned to CPU {cpu}" if cpu is not None else "not pinned (no sched_setaffinity)")
    table.notes.append("per photo bytes vs plain: " + ", ".join(_per_photo(photos, output)))
    return table


def _per_photo(photos, output: dict) -> list[str]:
    """Each photo's output size change, pixline vs plain."""
    return [
        f"{name.split('_')[0]} {100 * (ours - plain) / plain:+.0f}%"
        for (name, _, _), ours, plain in zip(photos, output["pixline"], output["plain-pillow"], strict=True)
    ]
