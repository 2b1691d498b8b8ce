"""docker/entrypoint.sh's Prometheus folder: emptied at start unless a live process uses it, never raced."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
ROLES_AT_ONCE = 6


def entry(folder: Path, *command: str, **kwargs) -> subprocess.Popen:
    """Run a command through the entrypoint (its `*)` branch), with folder as PROMETHEUS_MULTIPROC_DIR."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    return subprocess.Popen([str(ENTRYPOINT), *command], cwd=ROOT, env=env, stderr=subprocess.PIPE, **kwargs)


def stale_samples(folder: Path, count: int) -> None:
    """Files as dead processes leave them (many, in subfolders, so removing them takes a while)."""
    for number in range(count):
        sub = folder / f"sub{number % 20}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"counter_{number}.db").write_bytes(b"x")


def test_roles_starting_at_once_on_one_folder_all_start(tmp_path):
    folder = tmp_path / "metrics"
    for _ in range(3):
        stale_samples(folder, 5000)
        # Each "role" writes sample files as soon as it runs and for a while, as gunicorn and the workers do.
        script = (
            "import os, sys, time\nend = time.monotonic() + 0.5\nwhile time.monotonic() < end:\n"
            "    open(os.path.join(sys.argv[1], f'counter_{os.getpid()}_{time.monotonic_ns()}.db'), 'w').close()"
        )
        roles = [entry(folder, sys.executable, "-c", script, str(folder)) for _ in range(ROLES_AT_ONCE)]
        for role in roles:
            _, errors = role.communicate(timeout=60)
            assert role.returncode == 0, errors.decode()


def test_a_start_keeps_the_samples_of_a_live_process_and_clears_a_dead_ones(tmp_path):
    folder = tmp_path / "metrics"
    script = "import sys; print('running', flush=True); sys.stdin.read()"
    live = entry(folder, sys.executable, "-c", script, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert live.stdout.readline() == b"running\n"  # past the entrypoint's clearing: it uses the folder now
        sample = folder / "counter_12345.db"
        sample.write_bytes(b"live")
        second = entry(folder, "true")
        assert second.wait(timeout=30) == 0
        assert sample.read_bytes() == b"live", "a live process's samples were deleted"
    finally:
        live.communicate(input=b"", timeout=30)
    third = entry(folder, "true")
    assert third.wait(timeout=30) == 0
    assert not sample.exists(), "the samples of processes that are gone were kept"


def test_a_start_leaves_only_its_lock_file_in_the_folder(tmp_path):
    folder = tmp_path / "metrics"
    stale_samples(folder, 10)
    assert entry(folder, "true").wait(timeout=30) == 0
    assert [path.name for path in folder.iterdir()] == [".in-use"]
