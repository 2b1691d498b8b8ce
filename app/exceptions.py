"""Pixline's errors: each one carries the HTTP status and the code clients see.

The base and the image errors are defined in app.imaging.errors (imaging imports nothing from the rest of app)
and re-exported here, so `PixlineError` is one class everywhere.
"""

from app.imaging.errors import InvalidImage, PixlineError, TooManyFrames, TooManyPixels, UnsupportedType

__all__ = [
    "BadRequest",
    "Conflict",
    "InvalidImage",
    "NoFile",
    "NotFound",
    "PixlineError",
    "RateLimited",
    "StorageUnavailable",
    "TooLarge",
    "TooManyFrames",
    "TooManyPixels",
    "Unavailable",
    "UnsupportedType",
]


class NoFile(PixlineError):
    status, code = 400, "no_file"
    message = "Send exactly one non-empty file in the form field 'file'."


class BadRequest(PixlineError):
    status, code = 400, "bad_request"
    message = "The request is malformed."


class NotFound(PixlineError):
    status, code = 404, "not_found"
    message = "No such image."


class Conflict(PixlineError):
    status, code = 409, "conflict"
    message = "The image is not in a state that allows this."


class TooLarge(PixlineError):
    status, code = 413, "too_large"
    message = "The upload is larger than the limit."


class RateLimited(PixlineError):
    status, code = 429, "rate_limited"
    message = "Too many uploads; try again later."


class Unavailable(PixlineError):
    status, code = 503, "unavailable"
    message = "The service cannot take the request right now; try again shortly."
    is_transient = True


class StorageUnavailable(Unavailable):
    message = "Storage is unavailable; try again shortly."
