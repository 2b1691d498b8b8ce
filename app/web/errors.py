"""One place that turns errors into responses: JSON for the API, a readable page for people."""

import logging

from flask import Flask, current_app, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app.database import POOL_RETRY_AFTER
from app.exceptions import HTTP_CODES, PixlineError, TooLarge, Unavailable
from app.extensions import db
from app.web.request_limits import UPLOAD_ENDPOINTS
from app.web.sizes import filesize

log = logging.getLogger(__name__)


def wants_json() -> bool:
    """Whether the client should get a JSON error rather than an HTML page."""
    if request.path.startswith(("/api/", "/media/", "/healthz", "/readyz", "/rq")):
        return True
    return request.accept_mimetypes.best == "application/json"


def error_response(error: PixlineError):
    """The response for one of Pixline's errors."""
    headers = {"Retry-After": str(error.retry_after)} if getattr(error, "retry_after", None) else {}
    if wants_json():
        return jsonify(error.to_dict()), error.status, headers
    return render_template("error.html", error=error), error.status, headers


def handle_pixline_error(error: PixlineError):
    """Pixline's own errors carry their status and code."""
    return error_response(error)


def handle_http_error(error: HTTPException):
    """Werkzeug's errors (404, 405, 413…) in the same shape as ours."""
    if isinstance(error, RequestEntityTooLarge):
        return error_response(TooLarge(too_large_message()))
    pixline_error = PixlineError(error.description)
    pixline_error.status = error.code or 500
    pixline_error.code = HTTP_CODES.get(pixline_error.status, "http_error")
    response = error_response(pixline_error)
    if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response = (response[0], response[1], {"Allow": ", ".join(error.valid_methods)})
    return response


def too_large_message() -> str:
    """Which limit a 413 hit, with its value: the body size of this route, else the form's parts."""
    config = current_app.config
    body_limit = request.max_content_length
    if body_limit is not None and (request.content_length is None or request.content_length > body_limit):
        if request.endpoint in UPLOAD_ENDPOINTS:
            limit = config["MAX_UPLOAD_BYTES"]
            return f"The upload is larger than the limit of {filesize(limit)} ({limit:,} bytes) per file."
        return f"The request body is larger than the limit of {filesize(body_limit)} ({body_limit:,} bytes) here."
    return (
        f"The form is larger than the limits: at most {config['MAX_FORM_PARTS']} parts, and "
        f"{filesize(config['MAX_FORM_MEMORY_SIZE'])} ({config['MAX_FORM_MEMORY_SIZE']:,} bytes) per text field."
    )


def handle_database_error(error: Exception):
    """The database down, locked or dropping connections: a 503 to try again, the detail only in the log."""
    log.error("database error on %s %s: %s", request.method, request.path, error)
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the session may be as broken as the connection; the next request starts anew
        log.warning("could not roll back after a database error", exc_info=True)
    return error_response(Unavailable("The database is unavailable; try again shortly."))


def handle_pool_timeout(error: PoolTimeout):
    """No database connection came free within DATABASE_POOL_TIMEOUT: a fast 503 to try again, never a 500."""
    log.warning("no database connection for %s %s: %s", request.method, request.path, error)
    refusal = Unavailable("The service is busy; try again shortly.")
    refusal.retry_after = POOL_RETRY_AFTER
    return error_response(refusal)


def handle_unexpected_error(error: Exception):
    """Anything else: logged with its traceback, answered without one."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(PixlineError())


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    app.register_error_handler(PixlineError, handle_pixline_error)
    app.register_error_handler(HTTPException, handle_http_error)
    # DBAPIError covers OperationalError ("database is locked", connection refused) and InterfaceError.
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(PendingRollbackError, handle_database_error)
    app.register_error_handler(PoolTimeout, handle_pool_timeout)
    app.register_error_handler(Exception, handle_unexpected_error)
