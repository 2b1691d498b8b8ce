"""Table 2: peak RSS of a fresh process turning a 50 MP JPEG into the variant set, per pipeline.

`python -m bench.memory PIPELINE FILE` is the child: it runs one pipeline once and prints its peak RSS as JSON.
"""

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from bench.report import Table

ROOT = Path(__file__).resolve().parent.parent
PIPELINES = ("pixline", "plain-pillow", "pyvips")
# Just under Pixline's default MAX_IMAGE_PIXELS (50,000,000), so the image is accepted as a real upload would be.
BIG_SIZE = (9400, 5300)
TARGET_MB = 250


def big_jpeg(source: Path, folder: Path, size: tuple[int, int] = BIG_SIZE) -> Path:
    """A baseline JPEG of about 50 MP made by enlarging a corpus photo; made once and kept."""
    path = folder / f"big_{size[0]}x{size[1]}.jpg"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with Image.open(source) as photo:
            photo.convert("RGB").resize(size, Image.Resampling.BICUBIC).save(path, "JPEG", quality=90)
    return path


def measure(path: Path) -> Table:
    """Run each pipeline in its own fresh interpreter and collect its peak RSS."""
    with Image.open(path) as image:
        megapixels = image.width * image.height / 1e6
    table = Table(
        "memory",
        f"2. Peak RSS: one fresh process, {path.name} ({megapixels:.1f} MP, {path.stat().st_size / 1e6:.1f} MB)",
        ["pipeline", "peak RSS MB", "after imports MB", "work MB", "seconds", "output bytes"],
    )
    peaks = {}
    for name in PIPELINES:
        child = run_child(name, path)
        peaks[name] = child["peak_mb"]
        table.add(
            pipeline=name,
            **{"peak RSS MB": child["peak_mb"], "after imports MB": child["baseline_mb"]},
            **{"work MB": round(child["peak_mb"] - child["baseline_mb"], 1), "seconds": child["seconds"]},
            **{"output bytes": child["output_bytes"]},
        )
    ours, plain = peaks["pixline"], peaks["plain-pillow"]
    table.judge(f"pixline peak <= {TARGET_MB} MB ({ours:.0f} MB)", ours <= TARGET_MB)
    table.judge(f"pixline peak <= plain Pillow's ({ours:.0f} vs {plain:.0f} MB)", ours <= plain)
    table.notes.append("peak = VmHWM of the child, which imports the app (Flask, SQLAlchemy, RQ) like a worker")
    return table


def run_child(pipeline: str, path: Path) -> dict:
    """Run one pipeline in a fresh interpreter; its JSON report."""
    command = [sys.executable, "-m", "bench.memory", pipeline, str(path)]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def peak_mb() -> float:
    """This process's peak RSS so far in MB: VmHWM, since ru_maxrss carries the parent's peak across fork+exec."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def child_main(pipeline: str, path: str) -> None:
    """Import what a worker imports, read the file, run the pipeline once, report peak RSS."""
    import app.pipeline.jobs  # noqa: F401 - a worker has the whole app loaded
    from bench.pipelines import PIPELINES as FUNCTIONS

    function = FUNCTIONS[pipeline]
    if pipeline.startswith("pyvips"):
        function(_tiny_jpeg())  # load libvips before the baseline
    source = Path(path).read_bytes()
    baseline = peak_mb()
    started = time.perf_counter()
    output = sum(function(source))
    seconds = round(time.perf_counter() - started, 2)
    print(json.dumps({"peak_mb": peak_mb(), "baseline_mb": baseline, "seconds": seconds, "output_bytes": output}))


def _tiny_jpeg() -> bytes:
    """A small JPEG, to warm a pipeline up without touching the big one."""
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "gray").save(buffer, "JPEG")
    return buffer.getvalue()


if __name__ == "__main__":
    child_main(*sys.argv[1:3])
