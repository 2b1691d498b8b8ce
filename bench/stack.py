"""A live Pixline stack for the benchmarks, built from the pieces `make run` uses, and an HTTP load client."""

import io
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path

import redis
from rq import Worker

from app.stack import free_port, start_redis, stop_all, web_command

ROOT = Path(__file__).resolve().parent.parent
FINISHED = ("done", "failed")


class BenchStack:
    """Redis, migrations, gunicorn exactly as app/stack.py runs it (bench app), cron and N workers."""

    def __init__(self, folder: Path, worker_class: str = "fork", with_sink: bool = True, settings: dict | None = None):
        self.folder, self.port = folder, free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.redis_process, redis_url = start_redis(folder / "redis")
        self.env = {
            **os.environ,
            "INSTANCE_PATH": str(folder / "instance"),
            "DATABASE_URL": f"sqlite:///{folder / 'pixline.db'}",
            "STORAGE_ROOT": str(folder / "media"),
            "REDIS_URL": redis_url,
            "SECRET_KEY": "bench",
            "DASHBOARD_PASSWORD": "bench",
            "WORKER_CLASS": worker_class,
            "BENCH_SINK_ROOT": str(folder / "sink"),
            # The benchmarks measure the pipeline, comparable with earlier runs: no key lookup per request.
            "API_AUTH": "off",
            **(settings or {}),
        }
        command = [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"]
        subprocess.run(command, cwd=ROOT, env=self.env, check=True, capture_output=True)
        web = web_command("127.0.0.1", self.port, self.env)
        if with_sink:
            web[web.index("app:create_app()")] = "bench.wsgi:create_bench_app()"
        self.web = self._spawn("web", web)
        self.cron = self._spawn("cron", [sys.executable, "-m", "app.maintenance.cron"])
        self.workers: list[subprocess.Popen] = []
        wait_for_http(self.port, self.web)

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        """Start a child in its own session, its output in a log file beside the data."""
        log = open(self.folder / f"{name}-{uuid.uuid4().hex[:6]}.log", "ab")  # noqa: SIM115 - lives with the child
        return subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_workers(self, count: int) -> None:
        """Start count `python worker.py` processes, as make run does."""
        for _ in range(count):
            name = f"bench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
            self.workers.append(self._spawn("worker", [sys.executable, "worker.py", "--name", name]))

    def wait_for_workers(self, count: int, timeout: float) -> None:
        """Block until count workers have registered with Redis, so start-up stays out of the measurement."""
        connection = redis.Redis.from_url(self.env["REDIS_URL"])
        deadline = time.monotonic() + timeout
        while Worker.count(connection=connection) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} workers did not register within {timeout:.0f} s")
            time.sleep(0.05)

    def finished(self) -> tuple[int, int]:
        """(images done or failed, of which failed), read straight from the database."""
        with sqlite3.connect(self.folder / "pixline.db", timeout=30) as connection:
            rows = dict(connection.execute("SELECT status, COUNT(*) FROM images GROUP BY status").fetchall())
        return sum(rows.get(status, 0) for status in FINISHED), rows.get("failed", 0)

    def wait_until_finished(self, count: int, timeout: float) -> float:
        """Poll until count images are done or failed; the monotonic time it happened."""
        deadline = time.monotonic() + timeout
        while self.finished()[0] < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.finished()[0]} of {count} images finished within {timeout:.0f} s")
            time.sleep(0.02)
        return time.monotonic()

    def queued(self) -> int:
        """Images still waiting for a worker."""
        with sqlite3.connect(self.folder / "pixline.db", timeout=30) as connection:
            return connection.execute("SELECT COUNT(*) FROM images WHERE status = 'queued'").fetchone()[0]

    def stop(self) -> None:
        """Workers and web first, then Redis."""
        stop_all([*self.workers, self.cron, self.web])
        stop_all([self.redis_process])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def wait_for_http(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Block until GET /healthz answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the web server exited with code {process.returncode}")
        try:
            connection = HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError("the web server did not answer within {timeout:.0f} s")


@dataclass
class Upload:
    """A ready-to-send multipart body with one file field."""

    body: bytes
    content_type: str

    @classmethod
    def of(cls, data: bytes, filename: str) -> "Upload":
        """The multipart/form-data body a browser would send for this file."""
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        return cls(head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}")


def post_all(
    port: int, path: str, uploads: list[Upload], concurrency: int, timeout: float = 120, budget: float | None = None
) -> tuple[list[float], float, list[int]]:
    """POST every upload with `concurrency` keep-alive clients; (latencies in s, wall seconds, statuses: 0 failed).

    Past budget seconds no new request starts: the ones left count as failed, with the timeout as their latency.
    """
    pending = iter(enumerate(uploads))
    lock = threading.Lock()
    latencies, statuses = [float(timeout)] * len(uploads), [0] * len(uploads)
    give_up = time.perf_counter() + (budget if budget is not None else float("inf"))

    def client() -> None:
        connection = HTTPConnection("127.0.0.1", port, timeout=timeout)
        while True:
            with lock:
                index, upload = next(pending, (None, None))
            if upload is None or time.perf_counter() > give_up:
                connection.close()
                return
            started = time.perf_counter()
            try:
                connection.request("POST", path, body=upload.body, headers={"Content-Type": upload.content_type})
                response = connection.getresponse()
                response.read()
                status = response.status
            except OSError:  # refused or timed out: counted as an error, the next request gets a new connection
                connection.close()
                status = 0
            latencies[index], statuses[index] = time.perf_counter() - started, status

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started, statuses


def tiny_jpeg(size: tuple[int, int] = (64, 64)) -> bytes:
    """A small photo-like JPEG."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue()
