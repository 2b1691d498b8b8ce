"""The production web server's settings, shared by `make run` (app/stack.py) and the image (docker/gunicorn.conf.py)."""

import os
import resource
from collections.abc import Mapping

from config import _choice, _int

WORKER_CLASSES = ("gevent", "gthread")
# A waiting client costs a greenlet, its socket and (long-polls) a Redis socket: cheap, but each one is two fds.
DEFAULT_CONNECTIONS = 5000
DEFAULT_CLIENT_TIMEOUT = 30


def worker_class(environ: Mapping[str, str] = os.environ) -> str:
    """WEB_WORKER_CLASS: gevent (one greenlet per client, the default) or gthread (one thread per request)."""
    return _choice(environ, "WEB_WORKER_CLASS", "gevent", WORKER_CLASSES)


def connections(environ: Mapping[str, str] = os.environ) -> int:
    """WEB_CONNECTIONS: clients one web process holds at once (gevent; gthread: its kept-alive connections)."""
    return _int(environ, "WEB_CONNECTIONS", DEFAULT_CONNECTIONS, minimum=1)


def worker_options(environ: Mapping[str, str] = os.environ) -> list[str]:
    """gunicorn's command-line options for the chosen worker class."""
    chosen = worker_class(environ)
    options = ["--worker-class", chosen, "--worker-connections", str(connections(environ))]
    if chosen == "gthread":
        options += ["--threads", str(_int(environ, "WEB_THREADS", 16, minimum=1))]
    return options


def raise_open_files_limit(wanted: int | None = None) -> int:
    """Lift this process's soft limit on open files to the hard limit (or wanted); children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if wanted is None else min(wanted, hard)
    if hard == resource.RLIM_INFINITY and wanted is None:
        target = max(soft, 1 << 20)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return max(soft, target)
