"""The production web server's settings, shared by `make run` (app/stack.py) and the image (docker/gunicorn.conf.py)."""

import resource
from collections.abc import Mapping

from flask import Flask

from app import settings


def worker_options(environ: Mapping[str, str] | None = None) -> list[str]:
    """gunicorn's command-line options for WEB_WORKER_CLASS (environ: this process's environment by default)."""
    values = settings.read(environ)
    chosen = values["WEB_WORKER_CLASS"]
    options = ["--worker-class", chosen, "--worker-connections", str(values["WEB_CONNECTIONS"])]
    if chosen == "gthread":
        options += ["--threads", str(values["WEB_THREADS"])]
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


def warn_if_storage_moved(app: Flask) -> None:
    """Log a warning when the database's images are not in the app's storage (gunicorn's first web process)."""
    from app.maintenance.storage_check import warn_if_storage_moved as check

    with app.app_context():
        check()
