"""Liveness check."""

from flask import Blueprint, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Cheap liveness: the process answers."""
    return jsonify({"status": "ok"})
