"""Table 7: the web tier while thousands of clients wait (long-polls, slow uploads), per gunicorn worker class.

For each WEB_WORKER_CLASS, in one run: the upload at concurrency 8 and /healthz with nobody waiting; then, while
bench/idle_clients.py holds N long-polls on an image that never changes and M uploads trickled a few bytes a second,
the same upload, /healthz, how long a long-poll takes to answer once its image's status changes, and the web
tier's memory.
"""

import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path

import redis

from app.pipeline.notify import channel
from app.web_server import raise_open_files_limit
from bench.idle_clients import TRICKLE_BYTES_PER_SECOND
from bench.report import Table, percentile
from bench.stack import ROOT, BenchStack, Upload, post_all, tiny_jpeg

UPLOAD_CONCURRENCY = 8
HEALTHZ_TARGET_MS = 100
UPLOAD_RATIO_TARGET = 1.5
CHANGE_TARGET_S = 1.0


@dataclass(frozen=True)
class Load:
    """How many clients wait, and how much is measured under them."""

    polls: int
    slow: int
    wait: int
    uploads: int
    probes: int


FULL = Load(polls=2000, slow=300, wait=20, uploads=200, probes=50)
QUICK = Load(polls=40, slow=10, wait=5, uploads=16, probes=4)
# This table measures how many waiting clients one machine's web tier carries, all from the bench's one address: the
# per-address and per-process caps (which protect tenants from each other, table 8) are raised out of the way.
CAPACITY = {"MAX_WAITING_PER_ADDRESS": "100000", "MAX_WAITING_PER_PROCESS": "100000"}
CONFIGS = {
    "gthread": {"WEB_WORKER_CLASS": "gthread", **CAPACITY},
    "gevent": {"WEB_WORKER_CLASS": "gevent", **CAPACITY},
}


def measure(photo: bytes, load: Load, configs: tuple[str, ...] = tuple(CONFIGS)) -> Table:
    """One row per worker class: the same clients waiting, the same measurements."""
    raise_open_files_limit()
    table = Table(
        "waiting",
        f"7. Web tier under {load.polls:,} long-polls and {load.slow} slow uploads "
        f"({len(photo) / 1e6:.2f} MB upload at C={UPLOAD_CONCURRENCY}, 2 gunicorn processes)",
        ["worker class", "healthz p99 ms idle", "healthz p99 ms uploads only", "healthz p99 ms", "healthz fails",
         "upload p99 ms idle", "upload p99 ms", "upload ratio", "upload errors", "change->answer p50 ms",
         "change->answer max ms", "polls answered", "polls late", "polls failed", "slow dropped", "web RSS MB",
         "redis clients"],
    )  # fmt: skip
    for name in configs:
        table.rows.append(_measure_config(name, CONFIGS[name], photo, load))
    _judge(table, "gevent" if "gevent" in configs else configs[-1])
    table.notes.append(
        f"long-polls: GET /api/images/<done id>?wait={load.wait}&status=done again and again on kept-alive "
        f"connections, started over {load.wait} s so they re-poll at a steady rate; slow uploads: half trickle "
        "their headers, half their body, "
        f"{TRICKLE_BYTES_PER_SECOND} bytes/s, reconnecting when dropped"
    )
    table.notes.append("change->answer: the bench sets a waiting image's status as a worker does (commit, PUBLISH)")
    return table


def _measure_config(name: str, settings: dict, photo: bytes, load: Load) -> dict:
    """Start a stack with these settings and measure it idle, then loaded."""
    upload = Upload.of(photo, "photo.jpg")
    with (
        tempfile.TemporaryDirectory(prefix="pixline-bench-") as folder,
        BenchStack(Path(folder), with_sink=False, settings=settings) as stack,
    ):
        target, *probes = _queued_images(stack, 1 + load.probes)
        _set_status(stack, [target], "done", publish=False)
        post_all(stack.port, "/api/images", [upload] * 4, 2)  # warm every gunicorn process
        idle_healthz = _healthz_while(stack.port, lambda: time.sleep(3))
        idle: dict = {}
        uploads_healthz = _healthz_while(stack.port, lambda: idle.update(uploads=post_all(
            stack.port, "/api/images", [upload] * load.uploads, UPLOAD_CONCURRENCY)[0]))  # fmt: skip
        idle_uploads = idle["uploads"]
        clients = _start_idle_clients(stack.port, target, load)
        # Measured for at least one whole long-poll, so every waiting client's answer (on time or late) is counted.
        until = time.monotonic() + load.wait + 3
        try:
            time.sleep(2)  # let the server take in every connection before measuring
            results: dict = {}

            def loaded() -> None:
                results.update(_loaded_phase(stack, upload, probes, load))
                time.sleep(max(0.0, until - time.monotonic()))

            healthz = _healthz_while(stack.port, loaded)
            rss = _rss_megabytes(stack.web.pid)
            redis_clients = redis.Redis.from_url(stack.env["REDIS_URL"]).info("clients")["connected_clients"]
        finally:
            counts = _stop_idle_clients(clients)
    uploads, statuses, delays = results["uploads"], results["statuses"], results["delays"]
    return {
        "worker class": name,
        "healthz p99 ms idle": round(1000 * percentile(idle_healthz[0], 0.99), 1),
        "healthz p99 ms uploads only": round(1000 * percentile(uploads_healthz[0], 0.99), 1),
        "healthz p99 ms": round(1000 * percentile(healthz[0], 0.99), 1),
        "healthz fails": healthz[1],
        "upload p99 ms idle": round(1000 * percentile(idle_uploads, 0.99), 1),
        "upload p99 ms": round(1000 * percentile(uploads, 0.99), 1),
        "upload ratio": round(percentile(uploads, 0.99) / percentile(idle_uploads, 0.99), 2),
        "upload errors": sum(status != 202 for status in statuses),
        "change->answer p50 ms": round(1000 * statistics.median(delays), 1),
        "change->answer max ms": round(1000 * max(delays), 1),
        "polls answered": counts.get("polls_answered"),
        "polls late": counts.get("polls_late"),
        "polls failed": counts.get("polls_failed"),
        "slow dropped": counts.get("slow_dropped"),
        "web RSS MB": round(rss, 1),
        "redis clients": redis_clients,
    }


def _loaded_phase(stack: BenchStack, upload: Upload, probes: list[str], load: Load) -> dict:
    """Uploads at C=8, then long-polls on the probe images answered by a status change."""
    uploads, _, statuses = post_all(stack.port, "/api/images", [upload] * load.uploads, UPLOAD_CONCURRENCY, 30, 90)
    return {"uploads": uploads, "statuses": statuses, "delays": _change_delays(stack, probes, load.wait)}


def _change_delays(stack: BenchStack, probes: list[str], wait: int) -> list[float]:
    """Long-poll each probe image, change their status, and time each answer from the change (wait+ s if none)."""
    answered: dict[str, float] = {}

    def poll(image_id: str) -> None:
        connection = HTTPConnection("127.0.0.1", stack.port, timeout=wait + 30)
        try:
            connection.request("GET", f"/api/images/{image_id}?wait={wait}&status=queued")
            body = json.loads(connection.getresponse().read())
            if body.get("status") == "processing":
                answered[image_id] = time.monotonic()
        except OSError:
            pass
        finally:
            connection.close()

    threads = [threading.Thread(target=poll, args=(image_id,)) for image_id in probes]
    for thread in threads:
        thread.start()
    time.sleep(min(3, wait / 2))  # the polls are waiting in the server (or in its queue) by now
    changed = time.monotonic()
    _set_status(stack, probes, "processing")
    for thread in threads:
        thread.join()
    return [answered.get(image_id, changed + wait) - changed for image_id in probes]


def _queued_images(stack: BenchStack, count: int) -> list[str]:
    """Upload count tiny images (no worker runs, so they stay queued); their ids."""
    body = Upload.of(tiny_jpeg(), "probe.jpg")
    ids = []
    for _ in range(count):
        connection = HTTPConnection("127.0.0.1", stack.port, timeout=30)
        connection.request("POST", "/api/images", body=body.body, headers={"Content-Type": body.content_type})
        ids.append(json.loads(connection.getresponse().read())["id"])
        connection.close()
    return ids


def _set_status(stack: BenchStack, image_ids: list[str], status: str, publish: bool = True) -> None:
    """Change images' status as a worker does: commit the row, then PUBLISH on each image's channel."""
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    with sqlite3.connect(stack.folder / "pixline.db", timeout=30) as connection:
        marks = ",".join("?" * len(image_ids))
        connection.execute(
            f"UPDATE images SET status = ?, updated_at = ? WHERE id IN ({marks})", [status, now, *image_ids]
        )
    if publish:
        client = redis.Redis.from_url(stack.env["REDIS_URL"])
        for image_id in image_ids:
            client.publish(channel(image_id), status)


def _healthz_while(port: int, work) -> tuple[list[float], int]:
    """Probe /healthz every 100 ms on fresh connections while work() runs; (latencies, probes that failed)."""
    latencies, failures, done = [], [0], threading.Event()

    def probe() -> None:
        while not done.is_set():
            started = time.perf_counter()
            try:
                connection = HTTPConnection("127.0.0.1", port, timeout=15)
                connection.request("GET", "/healthz")
                ok = connection.getresponse().status == 200
                connection.close()
            except OSError:
                ok = False
            latencies.append(time.perf_counter() - started)
            failures[0] += not ok
            done.wait(0.1)

    thread = threading.Thread(target=probe)
    thread.start()
    try:
        work()
    finally:
        done.set()
        thread.join()
    return latencies, failures[0]


def _start_idle_clients(port: int, image_id: str, load: Load) -> subprocess.Popen:
    """bench/idle_clients.py in its own process (its event loop must not slow the measuring threads here)."""
    command = [sys.executable, "-m", "bench.idle_clients", str(port), image_id, "--polls", str(load.polls),
               "--slow", str(load.slow), "--wait", str(load.wait), "--ramp", str(load.wait),
               "--seconds", "600"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError("the idle clients did not start")
    return process


def _stop_idle_clients(process: subprocess.Popen) -> dict:
    """Close their stdin (they stop), and read their counts."""
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        return {}
    lines = [line for line in output.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def _rss_megabytes(pid: int) -> float:
    """Resident memory of a process and all its children (the gunicorn master and its workers), in MB."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


def _judge(table: Table, name: str) -> None:
    """The issue's targets, judged on the named configuration's row."""
    row = next(row for row in table.rows if row["worker class"] == name)
    table.judge(f"{name}: /healthz p99 <= {HEALTHZ_TARGET_MS} ms ({row['healthz p99 ms']} ms)",
                row["healthz p99 ms"] <= HEALTHZ_TARGET_MS and row["healthz fails"] == 0)  # fmt: skip
    table.judge(f"{name}: upload p99 <= {UPLOAD_RATIO_TARGET}x nobody waiting ({row['upload ratio']}x)",
                row["upload ratio"] <= UPLOAD_RATIO_TARGET and row["upload errors"] == 0)  # fmt: skip
    slowest = row["change->answer max ms"]
    table.judge(f"{name}: every long-poll answers <= {CHANGE_TARGET_S} s after the change ({slowest} ms)",
                slowest <= 1000 * CHANGE_TARGET_S)  # fmt: skip
