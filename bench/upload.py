"""Table 3: upload accept latency, the real upload endpoint next to a bare write-only one in the same server."""

import io
import statistics
import tempfile
from pathlib import Path

from PIL import Image

from bench.report import Table, percentile
from bench.stack import BenchStack, Upload, post_all
from bench.wsgi import SINK_PATH

UPLOAD_PATH = "/api/images"
TARGET_RATIO = 1.5
PHOTO_BYTES = 2_000_000


def two_megabyte_photo(source: Path) -> bytes:
    """A JPEG of about 2 MB made from a corpus photo (the quality that lands closest)."""
    with Image.open(source) as photo:
        picture = photo.convert("RGB")
    picture.thumbnail((3000, 3000))
    candidates = []
    for quality in range(70, 97, 3):
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality)
        candidates.append(buffer.getvalue())
    return min(candidates, key=lambda data: abs(len(data) - PHOTO_BYTES))


def measure(photo: bytes, requests: int, concurrencies: tuple[int, ...], busy_concurrency: int = 8) -> Table:
    """Idle web tier (no workers yet) at each concurrency, then the same while two workers drain a backlog."""
    table = Table(
        "upload",
        f"3. Upload accept latency: {len(photo) / 1e6:.2f} MB JPEG, {requests} requests per row, gunicorn as make run",
        ["workers", "C", "endpoint", "requests", "p50 ms", "p95 ms", "p99 ms", "uploads/s", "p99 vs bare", "errors"],
    )
    upload = Upload.of(photo, "photo.jpg")
    with tempfile.TemporaryDirectory(prefix="pixline-bench-") as folder, BenchStack(Path(folder)) as stack:
        post_all(stack.port, UPLOAD_PATH, [upload] * 4, 2)  # warm every gunicorn process
        for concurrency in concurrencies:
            _compare(table, stack, upload, requests, concurrency, "idle")
        stack.start_workers(2)
        backlog = stack.queued()
        rows = _compare(table, stack, upload, requests, busy_concurrency, "2 busy")
        still_queued = stack.queued()
    idle = next(
        row
        for row in table.rows
        if (row["workers"], row["C"], row["endpoint"]) == ("idle", busy_concurrency, "POST /api/images")
    )
    raw = next(
        row
        for row in table.rows
        if (row["workers"], row["C"], row["endpoint"]) == ("idle", busy_concurrency, "POST /api/images (raw body)")
    )
    table.judge(
        f"upload p99 at C={busy_concurrency} <= {TARGET_RATIO}x bare ({idle['p99 vs bare']}x)",
        idle["p99 vs bare"] <= TARGET_RATIO,
    )
    table.judge(
        f"raw-body upload p99 at C={busy_concurrency} <= {TARGET_RATIO}x bare ({raw['p99 vs bare']}x)",
        raw["p99 vs bare"] <= TARGET_RATIO,
    )
    table.notes.append(f"busy rows: {backlog} images queued when they started, {still_queued} still queued after")
    table.notes.append(f"busy p99 ratio {rows['p99 vs bare']}x (informational; the target is the idle row)")
    table.notes.append("each row interleaves bare and upload in two halves, so drift hits both")
    return table


def _compare(table: Table, stack: BenchStack, upload: Upload, requests: int, concurrency: int, workers: str) -> dict:
    """Measure bare, multipart and raw-body uploads in alternating halves; add their rows, return the multipart one."""
    raw = Upload(upload.body[upload.body.index(b"\r\n\r\n") + 4 : upload.body.rindex(b"\r\n--")], "image/jpeg")
    endpoints = {
        "bare write": (SINK_PATH, upload),
        "POST /api/images": (UPLOAD_PATH, upload),
        "POST /api/images (raw body)": (UPLOAD_PATH, raw),
    }
    latencies = {name: [] for name in endpoints}
    seconds = dict.fromkeys(endpoints, 0.0)
    errors = dict.fromkeys(endpoints, 0)
    for half in (requests // 2, requests - requests // 2):
        for name, (path, body) in endpoints.items():
            times, wall, statuses = post_all(stack.port, path, [body] * half, concurrency)
            latencies[name] += times
            seconds[name] += wall
            errors[name] += sum(status not in (201, 202) for status in statuses)
    bare_p99 = percentile(latencies["bare write"], 0.99)
    rows = {}
    for name, times in latencies.items():
        rows[name] = table.add(
            workers=workers,
            C=concurrency,
            endpoint=name,
            requests=len(times),
            **{"p50 ms": round(1000 * statistics.median(times), 1), "p95 ms": round(1000 * percentile(times, 0.95), 1)},
            **{"p99 ms": round(1000 * percentile(times, 0.99), 1), "uploads/s": round(len(times) / seconds[name], 1)},
            **{"p99 vs bare": round(percentile(times, 0.99) / bare_p99, 2), "errors": errors[name]},
        )
    return rows["POST /api/images"]
