"""Raw-body uploads: `POST /api/images` whose body is the image itself, with no multipart envelope to parse.

`Content-Type: image/*` (any image type: the bytes decide, as for multipart) or `application/octet-stream`; the
file name from `Content-Disposition: attachment; filename="…"` (or `filename*=UTF-8''…`) or `X-Filename`
(percent-encoded if it is not ASCII). Limits, sniffing, error codes and "nothing half-stored" are those of
accept_upload, which both paths end in.
"""

import tempfile
from typing import BinaryIO
from urllib.parse import unquote

from flask import Request, current_app
from werkzeug.http import parse_options_header

from app.exceptions import TooLarge
from app.models import Image
from app.pipeline.access import Principal
from app.pipeline.uploads import accept_upload
from app.web.sizes import filesize

RAW_TYPES = ("application/octet-stream",)
CHUNK = 256 * 1024
# Bodies up to this size stay in memory; larger ones spill to a temporary file.
SPOOL_BYTES = 1024 * 1024


def is_raw_upload(request: Request) -> bool:
    """Whether the request's body is the image itself (not a multipart form)."""
    return request.mimetype.startswith("image/") or request.mimetype in RAW_TYPES


def raw_filename(request: Request) -> str | None:
    """The client's name for the file: Content-Disposition's filename, else X-Filename."""
    disposition = request.headers.get("Content-Disposition")
    if disposition:
        _, options = parse_options_header(disposition)
        if options.get("filename"):
            return options["filename"]
    name = request.headers.get("X-Filename")
    return unquote(name) if name else None


def too_large(limit: int) -> TooLarge:
    """The refusal of a body over the upload limit, worded as for multipart uploads."""
    return TooLarge(f"The upload is larger than the limit of {filesize(limit)} ({limit:,} bytes) per file.")


def read_body(request: Request, limit: int) -> BinaryIO:
    """The body in a seekable file, refused with 413 as soon as it is known to pass limit (announced or streamed)."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    body = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned to the caller
    size = 0
    try:
        # Chunked bodies (no Content-Length) are counted as they arrive: a client cannot stream past the limit.
        while chunk := request.stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            body.write(chunk)
    except BaseException:
        body.close()
        raise
    body.seek(0)
    return body


def accept_raw_upload(request: Request, principal: Principal | None = None) -> Image:
    """Read the raw body and accept it as one upload of principal's owner."""
    with read_body(request, current_app.config["MAX_UPLOAD_BYTES"]) as body:
        return accept_upload(body, raw_filename(request), principal=principal)
