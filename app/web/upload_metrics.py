"""Counting the answers of upload routes for /metrics (the counter itself lives in monitoring)."""

from flask import Flask, Response, request

from app.monitoring.metrics import record_upload
from app.web.request_limits import UPLOAD_ENDPOINTS


def count_upload_answer(response: Response) -> Response:
    """after_request: count the answers of upload endpoints."""
    if request.endpoint in UPLOAD_ENDPOINTS:
        code = None
        if response.status_code >= 400 and response.is_json:
            error = (response.get_json(silent=True) or {}).get("error")
            code = error.get("code") if isinstance(error, dict) else None
        record_upload(response.status_code, code)
    return response


def init_app(app: Flask) -> None:
    """Count every answer of an upload route."""
    app.after_request(count_upload_answer)
