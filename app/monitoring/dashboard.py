"""rq-dashboard mounted at /rq, behind HTTP Basic auth and a same-origin check."""

import hmac
from urllib.parse import urlsplit

import rq_dashboard
from flask import Flask, current_app, jsonify, request
from rq.serializers import JSONSerializer
from rq_dashboard.web import setup_rq_connection

PREFIX = "/rq"
# Dashboard endpoints that change state (some of them answer GET, so the method alone does not tell).
STATE_CHANGING_WORDS = ("/requeue", "/delete", "/empty", "/compact", "/cancel")


def init_app(app: Flask) -> None:
    """Mount the dashboard and guard it at the app level (its blueprint is a shared global)."""
    # Our jobs are JSON-serialized; the dashboard must read them the same way.
    rq_dashboard.web.config.serializer = JSONSerializer
    app.config.setdefault("RQ_DASHBOARD_REDIS_URL", app.config["REDIS_URL"])
    app.config.setdefault("RQ_DASHBOARD_POLL_INTERVAL", 2500)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=PREFIX)
    setup_rq_connection(app)
    app.before_request(guard_dashboard)


def guard_dashboard():
    """Refuse /rq requests without valid credentials, and cross-origin state changes."""
    if request.path != PREFIX and not request.path.startswith(PREFIX + "/"):
        return None
    username = current_app.config.get("DASHBOARD_USERNAME") or ""
    password = current_app.config.get("DASHBOARD_PASSWORD") or ""
    if not password:
        return _refuse(404, "not_found", "The dashboard is disabled: set DASHBOARD_PASSWORD to enable it.")
    if not has_valid_credentials(username, password):
        response = _refuse(401, "unauthorized", "Dashboard credentials required.")
        response.headers["WWW-Authenticate"] = 'Basic realm="Pixline dashboard", charset="UTF-8"'
        return response
    if is_state_changing() and not is_same_origin():
        return _refuse(403, "forbidden", "Dashboard actions must come from the dashboard itself.")
    return None


def has_valid_credentials(username: str, password: str) -> bool:
    """Compare the Basic credentials in constant time."""
    auth = request.authorization
    if auth is None or auth.type != "basic":
        return False
    given_user = (auth.username or "").encode()
    given_password = (auth.password or "").encode()
    # Evaluate both comparisons always, so timing does not reveal which one failed.
    user_ok = hmac.compare_digest(given_user, username.encode())
    password_ok = hmac.compare_digest(given_password, password.encode())
    return user_ok and password_ok


def is_state_changing() -> bool:
    """Whether this dashboard request would change queue state."""
    return request.method not in ("GET", "HEAD", "OPTIONS") or any(
        word in request.path for word in STATE_CHANGING_WORDS
    )


def is_same_origin() -> bool:
    """Whether Origin (or, failing that, Referer) names this very host."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return False
    return urlsplit(source).netloc == request.host


def _refuse(status: int, code: str, message: str):
    """A JSON refusal."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response
