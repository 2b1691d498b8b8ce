"""Database engine settings that depend on the backend (SQLite needs WAL and a busy timeout)."""

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine


def configure_engine(app: Flask) -> None:
    """Engine options for the configured database URL."""
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Several worker processes write at once: wait for the lock instead of failing at once.
        options.setdefault("connect_args", {"timeout": app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000})
    else:
        options.setdefault("pool_pre_ping", True)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL lets readers proceed while a worker writes; foreign keys make deletes cascade."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
