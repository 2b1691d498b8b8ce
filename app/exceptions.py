"""Pixline's errors: each one carries the HTTP status and the code clients see."""


class PixlineError(Exception):
    """Base error with an HTTP status, a stable code and a readable message."""

    status = 500
    code = "internal_error"
    message = "Something went wrong."
    # Whether a background job that hit this error should try again later.
    is_transient = False

    def __init__(self, message: str | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message

    def to_dict(self) -> dict:
        """The JSON body clients receive."""
        return {"error": {"code": self.code, "message": self.message}}


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


class UnsupportedType(PixlineError):
    status, code = 415, "unsupported_type"
    message = "Only JPEG, PNG, WebP and GIF images are accepted."


class TooManyPixels(PixlineError):
    status, code = 422, "too_many_pixels"
    message = "The image has more pixels than the limit."


class InvalidImage(PixlineError):
    status, code = 422, "invalid_image"
    message = "The file is damaged or truncated and cannot be decoded."


class TooManyFrames(InvalidImage):
    status, code = 422, "too_many_frames"
    message = "The animation has more frames than the limit."


class RateLimited(PixlineError):
    status, code = 429, "rate_limited"
    message = "Too many uploads; try again later."


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
    409: "conflict",
    413: "too_large",
    429: "rate_limited",
    503: "unavailable",
}
