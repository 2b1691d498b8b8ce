"""The production web server (app/stack.py's web_command) on a free loopback port, for tests that need real HTTP."""

import socket
import subprocess
import time
from pathlib import Path

import requests

from app.stack import ROOT, free_port, stop_all, web_command
from tests.support.polling import wait_until


class WebServer:
    """gunicorn as `make run` starts it (one process unless told otherwise), with the given environment."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.port, self.log_path = free_port(), log_path
        self.url = f"http://127.0.0.1:{self.port}"
        env = {"WEB_PROCESSES": "1", **env}
        log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(web_command("127.0.0.1", self.port, env), cwd=ROOT, env=env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        wait_until(self.is_up, 30, interval=0.2, what="gunicorn to answer /healthz")

    def is_up(self) -> bool:
        """Whether /healthz answers 200 (fails at once if gunicorn died)."""
        assert self.process.poll() is None, f"gunicorn exited:\n{self.log()}"
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def connect(self) -> socket.socket:
        """A raw client socket to the server."""
        return socket.create_connection(("127.0.0.1", self.port), timeout=30)

    def log(self) -> str:
        """What gunicorn printed."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop gunicorn."""
        stop_all([self.process])


def read_until_closed(client: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (fails past timeout)."""
    received, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        client.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = client.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"the server kept the connection open for {timeout:.0f} s; got {received[:200]!r}")
