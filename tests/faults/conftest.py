"""Fault-test fixtures: a stack with a fast reconciler and the cron process, killers, and the audit after each test."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest
from rq import Worker

from app.stack import free_port, start_redis, stop_all
from tests.conftest import ROOT, Stack, dispose_app
from tests.support.polling import wait_until

# Seconds, small so each test shows the mechanism within its deadline; README gives the production bound.
FAST_RECOVERY = {
    "RECONCILE_INTERVAL": "1",
    "RECONCILE_GRACE_SECONDS": "2",
    "ABANDONED_AFTER_SECONDS": "5",
    "WORKER_MONITOR_SECONDS": "1",
    "WORKER_MAINTENANCE_SECONDS": "5",
}


class FaultStack(Stack):
    """A Stack that also runs the cron process (kept alive, and workers too if asked, as `make run` does)."""

    def __init__(self, tmp_path: Path, redis_url: str, overrides: dict[str, str]):
        super().__init__(tmp_path, redis_url, {**FAST_RECOVERY, **overrides})
        self.cron: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.restart_workers = False

    def start_cron(self) -> None:
        """Start `python -m app.maintenance.cron` and restart it whenever it exits."""
        self.cron = self._spawn_cron()
        self._supervisor = threading.Thread(target=self._keep_cron_alive, daemon=True)
        self._supervisor.start()

    def _spawn_cron(self) -> subprocess.Popen:
        log = open(self.tmp_path / "cron.log", "ab")  # noqa: SIM115 - closed with the process
        command = [sys.executable, "-m", "app.maintenance.cron"]
        return subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def _keep_cron_alive(self) -> None:
        while not self._stopping.wait(0.5):
            if self.cron.poll() is not None:
                self.cron = self._spawn_cron()
            if self.restart_workers:
                self.workers = [self._respawn_worker() if p.poll() is not None else p for p in self.workers]

    def _respawn_worker(self) -> subprocess.Popen:
        """A new worker in place of one that exited (RQ workers quit when Redis goes away; supervisors restart them)."""
        log = open(self.tmp_path / f"worker-{len(self.workers)}-again.log", "ab")  # noqa: SIM115
        command = [sys.executable, "worker.py"]
        return subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def worker_named(self, name: str) -> subprocess.Popen:
        """Our worker process registered under name."""
        pid = int(Worker.find_by_key(f"rq:worker:{name}", connection=self.redis).pid)
        return next(process for process in self.workers if process.pid == pid)

    def audit(self) -> str:
        """`flask images audit`; fails the test unless every invariant holds."""
        result = self.app.test_cli_runner().invoke(args=["images", "audit"])
        assert result.exit_code == 0, f"audit failed:\n{result.output}\n{self.worker_logs()[-4000:]}"
        return result.output

    def stop(self) -> None:
        """Stop the cron process and the workers."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        stop_all([self.cron] if self.cron else [])
        super().stop()


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL a worker, its scheduler and its work horse (own process group) at once: a crashed machine."""
    root = psutil.Process(process.pid)
    group = os.getpgid(process.pid)
    horses = [child for child in root.children(recursive=True) if os.getpgid(child.pid) != group]
    os.killpg(group, signal.SIGKILL)
    for horse in horses:
        os.killpg(os.getpgid(horse.pid), signal.SIGKILL)
    process.wait(timeout=10)


def work_horse(process: subprocess.Popen) -> psutil.Process:
    """The forked child currently running a job for this worker (RQ puts it in a process group of its own)."""

    def find():
        children = psutil.Process(process.pid).children()
        return next((child for child in children if os.getpgid(child.pid) == child.pid), None)

    return wait_until(find, 20, 0.02, what="a work horse")


def image_status(stack: Stack, image_id: str) -> str:
    """The row's status, read straight from the database."""
    with stack.app.app_context():
        from app.extensions import db
        from app.models import Image

        status = db.session.get(Image, image_id).status
        db.session.rollback()
        return status


@pytest.fixture
def make_fault_stack(tmp_path):
    """Build FaultStacks on a given Redis URL; audits each one after the test, then stops its processes."""
    stacks: list[FaultStack] = []

    def build(redis_url: str, **overrides: str) -> FaultStack:
        stack = FaultStack(tmp_path, redis_url, overrides)
        stacks.append(stack)
        return stack

    yield build
    try:
        for stack in stacks:
            stack.audit()
    finally:
        for stack in stacks:
            stack.stop()
            dispose_app(stack.app)


@pytest.fixture
def fault_stack(make_fault_stack, redis_url):
    """A FaultStack on the session's Redis with the cron process running and no workers yet."""
    stack = make_fault_stack(redis_url)
    stack.start_cron()
    return stack


class RestartableRedis:
    """A redis-server of this test only, on a fixed port, that can be stopped and started again."""

    def __init__(self, data_dir: Path, persistent: bool):
        self.data_dir, self.persistent, self.port = data_dir, persistent, free_port()
        self.process, self.url = start_redis(data_dir, self.port, persistent)

    def stop(self) -> None:
        """Stop the server (SIGTERM; it writes its AOF if it has one)."""
        stop_all([self.process])

    def start(self) -> None:
        """Start it again on the same port."""
        self.process, _ = start_redis(self.data_dir, self.port, self.persistent)


@pytest.fixture
def own_redis(tmp_path):
    """A non-persistent Redis of this test's own (the session's one must never go down)."""
    server = RestartableRedis(tmp_path / "own-redis", persistent=False)
    yield server
    server.stop()
