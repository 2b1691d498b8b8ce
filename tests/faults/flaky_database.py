"""A database outage inside jobs, on demand: the fault-injection seam for worker processes.

Loaded through the STORAGE_BACKEND plug-in seam (it is a LocalStorage that also installs an engine hook). Tests
set MODE_KEY to "all" (every statement fails) or "variants" (only writing variant rows fails) and FAILURES_KEY
to how many statements fail; only processes running an RQ job are affected, never the test itself.
"""

import os

import redis
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from app.storage import LocalStorage

MODE_KEY = "pixline:test:db-outage-mode"
FAILURES_KEY = "pixline:test:db-outage-failures"


class DatabaseOutageStorage(LocalStorage):
    """LocalStorage whose construction arms a Redis-controlled database outage in job processes."""

    @classmethod
    def from_app(cls, app) -> "DatabaseOutageStorage":
        """Build from the app's config and install the engine hook."""
        control = redis.Redis.from_url(app.config["REDIS_URL"])
        event.listen(Engine, "before_cursor_execute", _outage_hook(control))
        return cls(app.config["STORAGE_ROOT"])


def _outage_hook(control: redis.Redis):
    """An engine hook raising OperationalError while the outage lasts."""

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        if not os.environ.get("RQ_JOB_ID"):
            return
        mode = control.get(MODE_KEY)
        if mode is None:
            return
        if mode == b"variants" and not statement.lstrip().upper().startswith("INSERT INTO VARIANTS"):
            return
        if control.decr(FAILURES_KEY) >= 0:
            raise OperationalError(statement, parameters, Exception("injected database outage"))

    return before_cursor_execute
