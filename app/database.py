"""Database engine settings: the connection pool, and what depends on the backend (SQLite needs WAL and a busy timeout).

The pool is sized for gunicorn's gevent worker, where one process holds thousands of clients: no request keeps a
connection while it reads a body or waits (the key lookup, long-polls and event streams give theirs back first), so
a connection is held only for the milliseconds a query and its commit take. DATABASE_POOL_SIZE connections stay
open per process, DATABASE_POOL_OVERFLOW more are opened at a burst, and a request that finds none free within
DATABASE_POOL_TIMEOUT seconds gets 503 `unavailable` with Retry-After instead of waiting (app.web.errors).
"""

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

# Seconds a client is asked to wait after the pool had no connection for it.
POOL_RETRY_AFTER = 2


def configure_engine(app: Flask) -> None:
    """Engine options for the configured database URL."""
    config = app.config
    options = config["SQLALCHEMY_ENGINE_OPTIONS"]
    url = config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        # Several worker processes write at once: wait for the lock instead of failing at once.
        options.setdefault("connect_args", {"timeout": config["SQLITE_BUSY_TIMEOUT_MS"] / 1000})
    else:
        options.setdefault("pool_pre_ping", True)
    if not is_memory_sqlite(url):  # an in-memory database has one connection (StaticPool): no size to set
        options.setdefault("pool_size", config["DATABASE_POOL_SIZE"])
        options.setdefault("max_overflow", config["DATABASE_POOL_OVERFLOW"])
        options.setdefault("pool_timeout", config["DATABASE_POOL_TIMEOUT"])


def is_memory_sqlite(url: str) -> bool:
    """Whether url names an in-memory SQLite database (sqlite://, sqlite:///:memory:)."""
    return url.startswith("sqlite") and (url.rstrip("/") in ("sqlite:", "sqlite:/") or ":memory:" in url)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL lets readers proceed while a worker writes; foreign keys make deletes cascade."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
