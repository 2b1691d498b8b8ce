"""`make run` (app.stack) as a user meets it: a busy port, the settings file the CLI finds, the stack's own lines."""

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def stack_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The environment of a `make run` of its own: instance folder in tmp_path, no REDIS_URL (a private Redis)."""
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL", "STORAGE_ROOT")}
    return {**env, "INSTANCE_PATH": str(tmp_path / "instance"), "WEB_PROCESSES": "1", "WEB_THREADS": "2", **overrides}


def test_busy_port_stops_make_run_at_once_with_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = stack_env(tmp_path, PORT=str(port))
        done = subprocess.run([sys.executable, "-m", "app.stack"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=60)  # fmt: skip
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode != 0
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "PORT" in lines[0], lines
    assert not (tmp_path / "instance" / "redis").exists()  # stopped before starting anything
