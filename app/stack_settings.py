"""The settings a running `make run` gave its processes, kept in the instance folder so the CLI finds its stack.

`make run` writes them (its private Redis's URL above all) to `<instance>/stack.json` and removes the file when it
stops cleanly. `create_app()` reads the file when present, under the environment: a variable that is set still wins.
A file whose Redis no longer answers is left over from a stack that died; it is ignored, with a warning.
"""

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import redis

FILE_NAME = "stack.json"


def path_in(instance: Path) -> Path:
    """Where a stack using this instance folder keeps its settings."""
    return Path(instance) / FILE_NAME


def write(instance: Path, settings: Mapping[str, str]) -> Path:
    """Record a starting stack's settings (readable by this user only: they may hold passwords)."""
    path = path_in(instance)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.touch(mode=0o600)
    partial.write_text(json.dumps({"pid": os.getpid(), "settings": dict(settings)}, indent=2))
    partial.replace(path)
    return path


def remove(instance: Path) -> None:
    """Forget the settings of a stack that stopped, unless another stack wrote the file since."""
    path = path_in(instance)
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def load(instance: Path) -> dict[str, str]:
    """The settings of the live stack of this instance folder, or {} (with a warning for a stale file)."""
    path = path_in(instance)
    try:
        settings = json.loads(path.read_text())["settings"]
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError):
        warn(f"ignoring {path}: it is not a settings file written by make run")
        return {}
    url = settings.get("REDIS_URL")
    if url and not answers(url):
        warn(f"ignoring {path}: its Redis ({url}) does not answer; the stack that wrote it is gone")
        return {}
    return settings


def environ_with_stack(instance: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment, over the settings of this instance folder's running stack."""
    return {**load(instance), **(os.environ if environ is None else environ)}


def answers(url: str) -> bool:
    """Whether the Redis at url answers PING within half a second."""
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def warn(message: str) -> None:
    """A warning an operator must see, on stderr whatever the logging setup."""
    print(f"WARNING: {message}", file=sys.stderr, flush=True)
