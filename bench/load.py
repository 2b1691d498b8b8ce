"""Load with crashes: N uploads at concurrency C against a whole `python -m app.stack`, killing workers as it goes.

    .venv/bin/python bench/load.py --uploads 200 --concurrency 16 --kill-every 4

Starts a private stack (its own Redis, SQLite database and media folder in a temporary directory, on a free port),
uploads, kills a random worker process tree with SIGKILL every --kill-every seconds (the stack starts a new one),
waits until every accepted image is done or failed, audits the invariants, and prints accepted / done / failed /
lost / 5xx / upload latency p50, p95, p99 / drain time. Exits 1 if anything was lost, any upload got a 5xx or a
connection error, or the audit found a problem.
"""

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.stack import free_port, start_redis, stop_all  # noqa: E402

TERMINAL = {"done", "failed"}


@dataclass
class Tally:
    """What happened to the uploads."""

    accepted: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    kills: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int | None, latency: float, image_id: str | None) -> None:
        """Count one upload's answer (None: the connection failed)."""
        with self.lock:
            self.latencies.append(latency)
            if status is None:
                self.errors += 1
                return
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 202 and image_id:
                self.accepted.append(image_id)


def make_photos(count: int, width: int, height: int) -> list[bytes]:
    """Distinct JPEGs with some detail (gradients and shapes), so encoding does real work."""
    rng = random.Random(7)
    photos = []
    for number in range(count):
        picture = Image.linear_gradient("L").resize((width, height)).convert("RGB")
        draw = ImageDraw.Draw(picture)
        for _ in range(40):
            x, y = rng.randrange(width), rng.randrange(height)
            colour = (rng.randrange(256), rng.randrange(256), (number * 37) % 256)
            draw.ellipse((x, y, x + rng.randrange(20, 300), y + rng.randrange(20, 300)), fill=colour)
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=88)
        photos.append(buffer.getvalue())
    return photos


def start_stack(workdir: Path, port: int, redis_url: str, args) -> subprocess.Popen:
    """`python -m app.stack` on port with a private instance folder; waits until /healthz answers."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "STORAGE_ROOT")}
    env.update(
        INSTANCE_PATH=str(workdir / "instance"),
        PORT=str(port),
        REDIS_URL=redis_url,
        WORKERS=str(args.workers),
        DASHBOARD_PASSWORD="bench",
        RECONCILE_INTERVAL=str(args.reconcile_interval),
        ABANDONED_AFTER_SECONDS=str(args.abandoned_after),
        WORKER_MONITOR_SECONDS=str(args.monitor_interval),
        LOG_LEVEL="WARNING",
        # The load test is about delivery under crashes, not keys: the API is open for it.
        API_AUTH="off",
    )
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    log = open(workdir / "stack.log", "ab")  # noqa: SIM115 - kept open for the stack's lifetime
    stack = subprocess.Popen(
        [sys.executable, "-m", "app.stack"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if stack.poll() is not None:
            raise SystemExit(f"the stack exited early; see {workdir / 'stack.log'}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok and live_workers(stack):
                return stack
        except requests.RequestException:
            pass
        time.sleep(0.2)
    stop_all([stack])
    raise SystemExit("the stack did not come up within 60 s")


def live_workers(stack: subprocess.Popen) -> list[psutil.Process]:
    """The stack's worker processes (not their work horses or schedulers)."""
    return [child for child in psutil.Process(stack.pid).children() if is_live_worker(child)]


def is_live_worker(process: psutil.Process) -> bool:
    """Whether process is a running worker.py (a worker just killed may be a zombie, or gone, while we look)."""
    try:
        return "worker.py" in " ".join(process.cmdline()) and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # ZombieProcess is one too
        return False


def kill_tree(process: psutil.Process) -> None:
    """SIGKILL a worker, its scheduler and its work horse at once (the horse has a process group of its own)."""
    try:
        groups = {os.getpgid(process.pid)} | {os.getpgid(child.pid) for child in process.children(recursive=True)}
    except (psutil.NoSuchProcess, ProcessLookupError):
        return
    for group in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


def keep_killing(stack: subprocess.Popen, every: float, tally: Tally, stop: threading.Event) -> None:
    """Every few seconds (jittered around `every`), kill one random worker tree."""
    rng = random.Random()
    while not stop.wait(every * rng.uniform(0.5, 1.5)):
        workers = live_workers(stack)
        if workers:
            kill_tree(rng.choice(workers))
            tally.kills += 1


def upload_one(base: str, photo: bytes, number: int, tally: Tally) -> None:
    """POST one photo and record the answer and its latency."""
    started = time.perf_counter()
    try:
        response = requests.post(f"{base}/api/images", files={"file": (f"load-{number}.jpg", photo)}, timeout=60)
    except requests.RequestException:
        tally.record(None, time.perf_counter() - started, None)
        return
    image_id = response.json().get("id") if response.status_code == 202 else None
    tally.record(response.status_code, time.perf_counter() - started, image_id)


def wait_for_drain(base: str, image_ids: list[str], timeout: float) -> dict[str, str]:
    """Poll until every image is done or failed (or the timeout passes); returns id → last status seen."""
    statuses = dict.fromkeys(image_ids, "queued")
    session = requests.Session()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = [image_id for image_id, status in statuses.items() if status not in TERMINAL]
        if not pending:
            break
        for image_id in pending:
            response = session.get(f"{base}/api/images/{image_id}", timeout=10)
            statuses[image_id] = response.json()["status"] if response.ok else f"http {response.status_code}"
        time.sleep(0.5)
    return statuses


def audit(workdir: Path, redis_url: str, database_url: str | None) -> list[str]:
    """`flask images audit` against the stack's database, Redis and storage."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "STORAGE_ROOT")}
    env.update(INSTANCE_PATH=str(workdir / "instance"), REDIS_URL=redis_url)
    if database_url:
        env["DATABASE_URL"] = database_url
    command = [sys.executable, "-m", "flask", "--app", "app", "images", "audit"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return [] if result.returncode == 0 else (result.stdout + result.stderr).strip().splitlines()


def percentile(values: list[float], share: float) -> float:
    """The share-th percentile of values, in milliseconds."""
    if len(values) < 2:
        return (values[0] if values else 0.0) * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1] * 1000


def run(args) -> dict:
    """Run the whole scenario and return its numbers."""
    workdir = Path(tempfile.mkdtemp(prefix="pixline-load-"))
    redis_process, redis_url = start_redis(workdir / "redis")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    photos = make_photos(8, args.width, args.height)
    tally, stop_killing = Tally(), threading.Event()
    stack = None
    try:
        stack = start_stack(workdir, port, redis_url, args)
        killer = threading.Thread(target=keep_killing, args=(stack, args.kill_every, tally, stop_killing), daemon=True)
        if args.kill_every > 0:
            killer.start()
        started = time.monotonic()
        with ThreadPoolExecutor(args.concurrency) as pool:
            for number in range(args.uploads):
                pool.submit(upload_one, base, photos[number % len(photos)], number, tally)
        uploaded = time.monotonic()
        statuses = wait_for_drain(base, tally.accepted, args.drain_timeout)
        drained = time.monotonic()
        stop_killing.set()
        problems = audit(workdir, redis_url, args.database_url)
    finally:
        stop_killing.set()
        stop_all([stack] if stack else [])
        stop_all([redis_process])
    counts = {status: list(statuses.values()).count(status) for status in TERMINAL}
    result = {
        "uploads": args.uploads,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "accepted": len(tally.accepted),
        "done": counts["done"],
        "failed": counts["failed"],
        "lost": len(tally.accepted) - counts["done"] - counts["failed"],
        "5xx": sum(n for status, n in tally.statuses.items() if status >= 500),
        "connection_errors": tally.errors,
        "answers": {str(status): n for status, n in sorted(tally.statuses.items())},
        "workers_killed": tally.kills,
        "upload_p50_ms": round(percentile(tally.latencies, 0.50), 1),
        "upload_p95_ms": round(percentile(tally.latencies, 0.95), 1),
        "upload_p99_ms": round(percentile(tally.latencies, 0.99), 1),
        "upload_seconds": round(uploaded - started, 1),
        "drain_seconds": round(drained - uploaded, 1),
        "audit_problems": problems,
    }
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        result["workdir"] = str(workdir)
    return result


def main() -> int:
    """Parse arguments, run, print the numbers; non-zero exit on any loss, 5xx or audit problem."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=200, help="How many uploads to send.")
    parser.add_argument("--concurrency", type=int, default=16, help="Uploads in flight at once.")
    parser.add_argument("--workers", type=int, default=2, help="Worker processes the stack runs.")
    parser.add_argument("--kill-every", type=float, default=4, help="Seconds between worker kills (0: none).")
    parser.add_argument("--width", type=int, default=1600, help="Width of the uploaded photos.")
    parser.add_argument("--height", type=int, default=1200, help="Height of the uploaded photos.")
    parser.add_argument("--reconcile-interval", type=int, default=5, help="RECONCILE_INTERVAL of the stack.")
    parser.add_argument("--abandoned-after", type=int, default=10, help="ABANDONED_AFTER_SECONDS of the stack.")
    parser.add_argument("--monitor-interval", type=int, default=2, help="WORKER_MONITOR_SECONDS of the stack.")
    parser.add_argument("--drain-timeout", type=float, default=300, help="Longest wait for the queue to drain.")
    parser.add_argument("--database-url", default=None, help="Use this database instead of a private SQLite file.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary directory (logs, media).")
    args = parser.parse_args()
    result = run(args)
    for key, value in result.items():
        print(f"{key:>18}: {value}")
    print(json.dumps(result))
    failed = result["lost"] or result["5xx"] or result["connection_errors"] or result["audit_problems"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
