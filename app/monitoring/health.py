"""Liveness (/healthz: the process answers) and readiness (/readyz: the database, Redis and storage answer)."""

import logging
import time
from collections.abc import Callable

from flask import Blueprint, jsonify
from sqlalchemy import text

from app.extensions import db, redis_queue
from app.storage import get_storage

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Cheap liveness: the process answers."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Readiness: 200 when every dependency answers, else 503 naming the ones that do not."""
    checks = {name: timed_check(check) for name, check in dependency_checks().items()}
    down = sorted(name for name, result in checks.items() if not result["ok"])
    body = {"status": "down" if down else "ok", "down": down, "checks": checks}
    return jsonify(body), 503 if down else 200


def dependency_checks() -> dict[str, Callable[[], None]]:
    """The checks readiness runs, by dependency name."""
    return {"database": check_database, "redis": check_redis, "storage": check_storage}


def check_database() -> None:
    """Run a trivial query."""
    try:
        db.session.execute(text("SELECT 1"))
    finally:
        db.session.rollback()


def check_redis() -> None:
    """PING Redis."""
    redis_queue.connection.ping()


def check_storage() -> None:
    """Ask the storage backend whether it answers."""
    get_storage().check()


def timed_check(check: Callable[[], None]) -> dict:
    """Run one check: {ok, latency_ms} and the error when it failed."""
    started = time.perf_counter()
    try:
        check()
        result = {"ok": True}
    except Exception as error:  # noqa: BLE001 - any failure means "not ready", reported, never raised
        log.warning("readiness check failed: %s", error)
        # The class name only: readiness is unauthenticated, and messages may name hosts or paths.
        result = {"ok": False, "error": type(error).__name__}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result
