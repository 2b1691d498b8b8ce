"""`make run` as its user runs it: the whole stack in the foreground, default settings, the key its banner printed.

Tests that need the service exactly as a person meets it (the README's examples, the noisy-neighbour suite) start
one of these: `python -m app.stack` (what `make run` runs) with a plain environment, its own instance folder and a
free port, and talk to it over real HTTP with the key `make run` made. Nothing is switched off: `API_AUTH=required`.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import requests

from app.stack import ROOT, free_port
from tests.support.polling import wait_until

# What a person's shell has; everything else (a developer's REDIS_URL, DATABASE_URL, API_AUTH…) is left behind.
PLAIN_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER", "SHELL")
BANNER = "Pixline is running"
KEY_PATTERN = re.compile(r"pxl_[A-Za-z0-9_-]+")


def plain_environment(**settings: str) -> dict[str, str]:
    """A shell's environment with no Pixline setting in it (pip's own settings kept), plus settings."""
    kept = {name: value for name, value in os.environ.items() if name in PLAIN_VARIABLES or name.startswith("PIP_")}
    return {**kept, **settings}


class RunningStack:
    """One `make run` (web, workers, cron, a private Redis) of checkout, serving on a free port of its own."""

    def __init__(self, log_path: Path, checkout: Path = ROOT, command: list[str] | None = None, **settings: str):
        self.folder, self.log_path = Path(checkout), Path(log_path)
        self.port = int(settings.pop("PORT", 0)) or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.instance = Path(settings.get("INSTANCE_PATH") or self.folder / "instance")
        self.env = plain_environment(PORT=str(self.port), **settings)
        self.command = command or [sys.executable, "-m", "app.stack"]
        self.process: subprocess.Popen | None = None
        self.key = ""

    def start(self, timeout: float = 120) -> "RunningStack":
        """Start it and wait for the banner and /healthz; the key is the one the banner printed."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, cwd=self.folder, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        wait_until(self._has_banner, timeout, interval=0.2, what=f"`make run` to print its banner in {self.log_path}")
        wait_until(self._is_healthy, 30, interval=0.2, what="/healthz to answer 200")
        self.key = self._printed_key()
        return self

    def _has_banner(self) -> bool:
        """Whether the banner is out (fails at once, with the log, if the stack exited)."""
        if self.process.poll() is not None:
            raise AssertionError(f"make run exited with {self.process.returncode}:\n{self.log()[-4000:]}")
        return BANNER in self.log()

    def _is_healthy(self) -> bool:
        """Whether /healthz answers 200."""
        try:
            return requests.get(f"{self.url}/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def _printed_key(self) -> str:
        """The API key the banner showed (and, failing that, the file it names)."""
        found = KEY_PATTERN.findall(self.log()[self.log().rfind(BANNER) :])
        return found[0] if found else (self.instance / "api_key").read_text().strip()

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header a README reader sends."""
        return {"Authorization": f"Bearer {self.key}"}

    def request(self, method: str, path: str, key: str | None = None, **options) -> requests.Response:
        """One HTTP request to the stack, with key (default: the banner's key; "" for none)."""
        key = self.key if key is None else key
        headers = {**({"Authorization": f"Bearer {key}"} if key else {}), **options.pop("headers", {})}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=options.pop("timeout", 60),
                                **options)  # fmt: skip

    def upload(self, path: Path, key: str | None = None) -> requests.Response:
        """POST a file to /api/images as `curl -F file=@path` does."""
        with open(path, "rb") as file:
            return self.request("POST", "/api/images", key, files={"file": (path.name, file)})

    def wait_for(self, image_id: str, wanted: str = "done", timeout: float = 120, key: str | None = None) -> dict:
        """Long-poll the image until its status is wanted (fails on another final status or past timeout)."""
        deadline = time.monotonic() + timeout
        image = self.request("GET", f"/api/images/{image_id}", key).json()
        while image["status"] != wanted:
            assert image["status"] not in ("done", "failed"), f"image {image_id} ended {image['status']}: {image}"
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"image {image_id} still {image['status']} after {timeout:.0f} s"
            wait = max(1, min(10, int(remaining)))
            path = f"/api/images/{image_id}?wait={wait}&status={image['status']}"
            image = self.request("GET", path, key, timeout=wait + 30).json()
        return image

    @property
    def python(self) -> Path:
        """The stack's Python: the command's own, else the checkout's .venv (what `make run` built), else ours."""
        if Path(self.command[0]).name.startswith("python"):
            return Path(self.command[0])
        built = self.folder / ".venv" / "bin" / "python"
        return built if built.exists() else Path(sys.executable)

    def flask(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """`flask --app app …` from the stack's folder in the same plain environment (it finds the stack itself)."""
        command = [str(self.python), "-m", "flask", "--app", "app", *args]
        return subprocess.run(command, cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=timeout)

    def log(self) -> str:
        """Everything the stack printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 90) -> int:
        """Ctrl-C, as its user stops it (the terminal signals the foreground group: `make` and the stack in it)."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout)
            # `make` may exit before the stack it started has finished stopping: wait for the whole group.
            wait_until(lambda: not group_alive(self.process.pid), timeout, interval=0.2, what="make run to stop")
        except (subprocess.TimeoutExpired, AssertionError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        return self.process.returncode


def group_alive(group: int) -> bool:
    """Whether any process of this process group is still running."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def settings_of(stack: RunningStack) -> Mapping[str, str]:
    """The settings the running stack wrote for its CLI (instance/stack.json)."""
    return json.loads((stack.instance / "stack.json").read_text())["settings"]


__all__ = ["ROOT", "RunningStack", "plain_environment", "settings_of"]
