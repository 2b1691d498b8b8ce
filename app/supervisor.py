"""`make run`'s children: each one restarted when it dies, backing off while it keeps crashing, given up on at last.

A child that exits on its own soon after it started is crashing (a bad option, a module that cannot be imported, a
port it cannot bind): it is started again after 1, 2, 4, 8 s, and after CRASHES_BEFORE_GIVING_UP such exits in a
row the stack stops with the child's last error line. A child that ran a while, or was killed from outside (the OOM
killer, an operator's `kill -9`, the load test), is simply started again: its work is never lost (README, Delivery
guarantee).
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from app import settings

STOP_GRACE_SECONDS = 30
RESTART_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
CRASHES_BEFORE_GIVING_UP = 5
# A child that lived this long before exiting was not crash-looping: its count starts over.
STABLE_SECONDS = 60.0
# Deaths by these signals come from outside the child; they are restarted, never counted as crashes.
EXTERNAL_SIGNALS = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGINT})


def say(message: str, level: str = "info") -> None:
    """One line of the supervisor's own on stderr: a JSON object when LOG_FORMAT=json, like every other process's."""
    if settings.read()["LOG_FORMAT"] == "json":
        message = json.dumps({"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "level": level,
                              "logger": "pixline.stack", "message": message})  # fmt: skip
    print(message, file=sys.stderr, flush=True)


class StackFailure(Exception):
    """The stack cannot go on (a child keeps crashing, web never answers, Redis died); the message says why."""


class CrashLoop(StackFailure):
    """A child kept crashing: CRASHES_BEFORE_GIVING_UP exits in a row, each soon after it started."""

    def __init__(self, name: str, exits: int, last_line: str):
        self.name, self.exits, self.last_line = name, exits, last_line
        super().__init__(
            f"{name} exited {exits} times in a row within {STABLE_SECONDS:.0f} s of starting; stopping Pixline. "
            f"Its last error: {last_line or '(it printed nothing)'}"
        )


def telling_line(raw: str) -> str:
    """What a line of output says, or "" for one that says nothing (blank, a lone bracket of a traceback dump)."""
    line = raw.strip()
    if line.startswith("{"):
        with contextlib.suppress(ValueError, AttributeError):
            entry = json.loads(line)
            exception = [part for part in str(entry.get("exception") or "").splitlines() if part.strip()]
            line = exception[-1].strip() if exception else str(entry.get("message", line))
    return line if any(character.isalnum() for character in line) else ""


class StderrRelay:
    """Copies a child's stderr to ours as it comes, remembering the last line that says something."""

    def __init__(self, stream: IO[bytes]):
        self.last_line = ""
        self._thread = threading.Thread(target=self._relay, args=(stream,), daemon=True)
        self._thread.start()

    def _relay(self, stream: IO[bytes]) -> None:
        """Forward every line until the child (and its own children) closed the pipe."""
        with stream:
            for raw in stream:
                with contextlib.suppress(OSError, ValueError):
                    sys.stderr.buffer.write(raw)
                    sys.stderr.buffer.flush()
                self.last_line = telling_line(raw.decode(errors="replace")) or self.last_line

    def finish(self, timeout: float = 2.0) -> str:
        """Wait (briefly) for the rest of the child's output; its last telling line."""
        self._thread.join(timeout)
        return self.last_line


class Supervised:
    """A long-running child (web, worker, cron) that is started again whenever it dies, unless it keeps crashing."""

    def __init__(self, name: str, command: Callable[[int], list[str]], cwd: Path):
        self.name, self.command, self.cwd = name, command, cwd
        self.generation, self.crashes, self.restart_at = 0, 0, None
        self._spawn()

    def _spawn(self) -> None:
        """Start the next generation (its own session: Ctrl-C must not reach it before we decide)."""
        self.generation += 1
        self.process = subprocess.Popen(self.command(self.generation), cwd=self.cwd, stderr=subprocess.PIPE,
                                        start_new_session=True)  # fmt: skip
        self.relay, self.started_at, self.restart_at = StderrRelay(self.process.stderr), time.monotonic(), None

    def check(self) -> None:
        """Start it again if it died and its wait is over; raise CrashLoop when it keeps crashing."""
        if self.restart_at is None:
            if self.process.poll() is None:
                return
            self._note_exit()
        if time.monotonic() >= self.restart_at:
            self._spawn()

    def _note_exit(self) -> None:
        """Count the exit, decide when to start it again, and say so (or give up)."""
        code, lived = self.process.returncode, time.monotonic() - self.started_at
        last_line = self.relay.finish()
        is_crash = lived < STABLE_SECONDS and not (code < 0 and -code in EXTERNAL_SIGNALS)
        self.crashes = self.crashes + 1 if is_crash else 0
        if self.crashes >= CRASHES_BEFORE_GIVING_UP:
            raise CrashLoop(self.name, self.crashes, last_line)
        delay = RESTART_BACKOFF_SECONDS * 2 ** (self.crashes - 1) if is_crash else RESTART_BACKOFF_SECONDS - lived
        delay = min(MAX_BACKOFF_SECONDS, max(0.0, delay))
        self.restart_at = time.monotonic() + delay
        say(f"{self.name} {exit_description(code)}; restarting it in {delay:.0f} s.", "warning")


def exit_description(code: int) -> str:
    """How a child ended, in words: an exit status or the signal that killed it."""
    if code >= 0:
        return f"exited with code {code}"
    with contextlib.suppress(ValueError):
        return f"was killed by {signal.Signals(-code).name}"
    return f"was killed by signal {-code}"


def stop_children(children: list[Supervised]) -> None:
    """Stop every child (as stop_all), then wait for the last of their output, so nothing is printed after us."""
    stop_all([child.process for child in children])
    for child in children:
        child.relay.finish()


def stop_all(processes: list[subprocess.Popen]) -> None:
    """SIGTERM every process (workers finish their job first), then SIGKILL what is left after the grace period."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _kill_group_leftovers(process)


def _kill_group_leftovers(process: subprocess.Popen) -> None:
    """SIGKILL what is left in a stopped child's own process group (e.g. a worker's scheduler process)."""
    try:
        if os.getpgid(process.pid) != process.pid:
            return
    except ProcessLookupError:
        pass  # the leader is gone and reaped; its group id is its pid (we start every child in its own session)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
