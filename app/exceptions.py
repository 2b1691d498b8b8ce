"""Pixline's errors: each one carries the HTTP status and the code clients see.

The base and the image errors are defined in app.imaging.errors (imaging imports nothing from the rest of app)
and re-exported here, so `PixlineError` is one class everywhere.
"""

from app.imaging.errors import (
    InvalidImage,
    PixlineError,
    TooLargeToProcess,
    TooManyFrames,
    TooManyPixels,
    UnsupportedType,
)

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "InvalidImage",
    "NoFile",
    "NotFound",
    "PixlineError",
    "ProcessingTimeout",
    "QuotaExceeded",
    "RateLimited",
    "StorageUnavailable",
    "TooLarge",
    "TooLargeToProcess",
    "TooManyFrames",
    "TooManyPixels",
    "Unauthorized",
    "Unavailable",
    "UnsupportedType",
    "WebhookBacklogFull",
    "WebhookUrlRefused",
]


class NoFile(PixlineError):
    status, code = 400, "no_file"
    message = "Send exactly one non-empty file in the form field 'file'."


class BadRequest(PixlineError):
    status, code = 400, "bad_request"
    message = "The request is malformed."


class Unauthorized(PixlineError):
    status, code = 401, "unauthorized"
    # One message for a missing, malformed, unknown, wrong, revoked or expired key: a refusal tells nothing more.
    message = "Send a valid API key: Authorization: Bearer pxl_…"


class Forbidden(PixlineError):
    status, code = 403, "forbidden"
    message = "This key does not allow that."


class QuotaExceeded(PixlineError):
    status, code = 403, "quota_exceeded"
    message = "The owner's storage quota is used up."


class NotFound(PixlineError):
    status, code = 404, "not_found"
    message = "No such image."


class Conflict(PixlineError):
    status, code = 409, "conflict"
    message = "The image is not in a state that allows this."


class TooLarge(PixlineError):
    status, code = 413, "too_large"
    message = "The upload is larger than the limit."


class ProcessingTimeout(PixlineError):
    status, code = 422, "processing_timeout"
    message = "Processing took longer than a job may take (JOB_TIMEOUT)."
    # Retried once only (app.pipeline.jobs.on_processing_failure).
    is_transient = True


class RateLimited(PixlineError):
    status, code = 429, "rate_limited"
    message = "Too many uploads; try again later."

    def __init__(self, message: str | None = None, retry_after: int | None = None):
        super().__init__(message)
        # Seconds until the client may try again: sent as Retry-After.
        self.retry_after = retry_after


class WebhookBacklogFull(RateLimited):
    code = "webhook_backlog"
    message = "Too many deliveries wait for this owner's webhook endpoints; try again once they are through."


class Unavailable(PixlineError):
    status, code = 503, "unavailable"
    message = "The service cannot take the request right now; try again shortly."
    is_transient = True


class StorageUnavailable(Unavailable):
    message = "Storage is unavailable; try again shortly."


# The code of an HTTP error Pixline did not raise itself (Werkzeug's 404, 405, 413…), by status.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "client_timeout",
    409: "conflict",
    413: "too_large",
    429: "rate_limited",
    503: "unavailable",
}


class WebhookUrlRefused(PixlineError):
    status, code = 400, "webhook_url_refused"
    message = "The webhook URL is not one Pixline calls."
