"""Request body limits per route: only the upload routes may receive a file-sized body."""

from flask import Request, current_app

# Views that take a whole image in the body; MAX_CONTENT_LENGTH (MAX_UPLOAD_BYTES + envelope) applies to them.
UPLOAD_ENDPOINTS = frozenset({"api.upload_image", "pages.upload_form"})


class PixlineRequest(Request):
    """Flask's request, with every route but the upload routes limited to MAX_FORM_MEMORY_SIZE bytes of body."""

    @property
    def max_content_length(self) -> int | None:
        """The body limit of this request (413 past it, before the rest is read)."""
        limit = Request.max_content_length.fget(self)
        # Werkzeug reads url-encoded forms whole, so without this any route would buffer up to 25 MiB.
        if self._max_content_length is not None or not current_app or self.endpoint in UPLOAD_ENDPOINTS:
            return limit
        small = current_app.config["MAX_FORM_MEMORY_SIZE"]
        return small if limit is None else min(limit, small)

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value
