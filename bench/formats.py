"""Table 5: phone formats: HEIC photos (two corpus photos converted) and an animated GIF, next to plain Pillow.

`python -m bench.formats PIPELINE FILE` is the child: it runs one pipeline once on one file in a fresh interpreter
and prints its time and peak RSS as JSON, so the GIF's memory is measured alone.
"""

import io
import json
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image, ImageOps, ImageSequence

from bench.memory import peak_mb
from bench.report import Table

ROOT = Path(__file__).resolve().parent.parent
# Two corpus photos of different sizes, converted to HEIC at iPhone-like quality.
HEIC_SOURCES = ("storm_1920x1280.jpg", "elephants_3840x2160.jpg")
GIF_FRAMES, GIF_SIZE = 500, (800, 450)
GIF_MEMORY_TARGET_MB = 150


def heic_photos(corpus: Path, folder: Path, count: int) -> list[Path]:
    """HEIC versions of corpus photos, made once and kept."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in HEIC_SOURCES[:count]:
        path = folder / (Path(name).stem + ".heic")
        if not path.exists():
            with Image.open(corpus / name) as photo:
                photo.convert("RGB").save(path, "HEIF", quality=80)
        paths.append(path)
    return paths


def animated_gif(folder: Path, frames: int = GIF_FRAMES, size: tuple[int, int] = GIF_SIZE) -> Path:
    """A GIF of a bar moving over a gradient, every frame different; made once and kept."""
    path = folder / f"moving_{frames}x{size[0]}x{size[1]}.gif"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        background = Image.linear_gradient("L").resize(size).convert("RGB")
        pictures = []
        for index in range(frames):
            frame = background.copy()
            x = index * size[0] // frames
            frame.paste((255, 0, 0), (x, 0, x + max(2, size[0] // 50), size[1]))
            pictures.append(frame.convert("P", palette=Image.Palette.ADAPTIVE, colors=64))
        pictures[0].save(path, "GIF", save_all=True, append_images=pictures[1:], duration=40, loop=0)
    return path


def measure(corpus: Path, cache: Path, quick: bool) -> Table:
    """Run each pipeline on each file in its own fresh interpreter."""
    files = heic_photos(corpus, cache, 1 if quick else 2)
    files.append(animated_gif(cache, 50 if quick else GIF_FRAMES))
    table = Table(
        "formats",
        "5. Phone formats: one fresh process per file and pipeline",
        ["file", "pipeline", "seconds", "x plain", "peak RSS MB", "work MB", "output bytes", "animated variants"],
    )
    for path in files:
        plain = run_child("plain-pillow", path)
        ours = run_child("pixline", path)
        for name, child in (("pixline", ours), ("plain-pillow", plain)):
            table.add(
                file=path.name,
                pipeline=name,
                seconds=child["seconds"],
                **{"x plain": round(plain["seconds"] / child["seconds"], 2) if child["seconds"] else None},
                **{"peak RSS MB": child["peak_mb"], "work MB": round(child["peak_mb"] - child["baseline_mb"], 1)},
                **{"output bytes": child["output_bytes"], "animated variants": child["animated"]},
            )
        if path.suffix == ".heic":
            table.judge(f"{path.name}: pixline faster than plain Pillow", ours["seconds"] < plain["seconds"])
        else:
            peak = ours["peak_mb"]
            table.judge(
                f"{path.name}: pixline peak <= {GIF_MEMORY_TARGET_MB} MB ({peak:.0f})", peak <= GIF_MEMORY_TARGET_MB
            )
    table.notes.append("plain Pillow: open, exif_transpose, per size thumbnail + save; for the GIF every frame resized")
    table.notes.append("and kept, then save_all (what Image.save needs). Pixline: the default variants, animated")
    table.notes.append("within MAX_ANIMATION_PIXELS, frames decoded, resized and encoded one at a time")
    return table


def run_child(pipeline: str, path: Path) -> dict:
    """Run one pipeline in a fresh interpreter; its JSON report."""
    command = [sys.executable, "-m", "bench.formats", pipeline, str(path)]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def pixline(source: bytes) -> tuple[int, int]:
    """Pixline's render_variants with the default settings: output bytes and animated variants."""
    from app.imaging import render_variants
    from bench.pipelines import FORMAT, QUALITY, SPECS

    variants = render_variants(source, SPECS, FORMAT, QUALITY).variants
    return sum(v.bytes for v in variants), sum(v.animated for v in variants)


def plain_pillow(source: bytes) -> tuple[int, int]:
    """The textbook pipeline; an animation keeps every resized frame in memory until save_all."""
    from bench.pipelines import QUALITY, SIZES

    image = Image.open(io.BytesIO(source))
    if not getattr(image, "is_animated", False):
        image = ImageOps.exif_transpose(image)
    total, animated = 0, 0
    for size in SIZES:
        buffer = io.BytesIO()
        if getattr(image, "is_animated", False):
            frames = []
            for frame in ImageSequence.Iterator(image):
                copy = frame.convert("RGBA")
                copy.thumbnail((size, size), Image.Resampling.LANCZOS)
                frames.append(copy)
            frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], quality=QUALITY, duration=40)
            animated += 1
        else:
            variant = image.copy()
            variant.thumbnail((size, size), Image.Resampling.LANCZOS)
            variant.save(buffer, "WEBP", quality=QUALITY)
        total += buffer.tell()
    return total, animated


def child_main(pipeline: str, path: str) -> None:
    """Import what a worker imports, run the pipeline once, report time and peak RSS."""
    import pillow_heif

    import app.pipeline.jobs  # noqa: F401 - a worker has the whole app loaded

    pillow_heif.register_heif_opener()
    function = {"pixline": pixline, "plain-pillow": plain_pillow}[pipeline]
    source = Path(path).read_bytes()
    baseline = peak_mb()
    started = time.perf_counter()
    output, animated = function(source)
    seconds = round(time.perf_counter() - started, 2)
    report = {"peak_mb": peak_mb(), "baseline_mb": baseline, "seconds": seconds, "output_bytes": output}
    print(json.dumps({**report, "animated": animated}))


if __name__ == "__main__":
    child_main(*sys.argv[1:3])
