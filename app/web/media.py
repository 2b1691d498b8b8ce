"""Serving stored files of the local backend, safely and cacheably."""

import time

from flask import Blueprint, current_app, request, send_file

from app.exceptions import NotFound
from app.storage import LocalStorage, check_key, get_storage

bp = Blueprint("media", __name__)

SERVED_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif", "avif": "image/avif"}
# Nothing in a served file may load, run or frame anything, even if a browser were talked into rendering it.
MEDIA_CSP = "default-src 'none'; sandbox"


@bp.get("/media/<path:key>")
def serve(key: str):
    """A stored variant (or original, when SERVE_ORIGINALS is on) with strict headers."""
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        raise NotFound("No such file.")
    expires = signed_until(storage, key)
    try:
        # Validated before judging its prefix: 'variants/../originals/…' must not pass for a variant.
        key = check_key(key)
        path = storage.path(key)
    except KeyError:
        raise NotFound("No such file.") from None
    if not is_public(key):
        raise NotFound("No such file.")
    extension = key.rpartition(".")[2].lower()
    is_original = key.startswith("originals/")
    if extension not in SERVED_TYPES or not path.is_file():
        raise NotFound("No such file.")
    response = send_file(
        path,
        mimetype=SERVED_TYPES[extension],
        etag=storage.etag(key),
        conditional=True,
        max_age=cache_lifetime(expires),
        # The server-made name (<id>.<ext>, <variant>.<ext>), never the client's; Werkzeug quotes it.
        download_name=path.name,
        # Originals are the client's bytes as sent (polyglots included): download them, never render them inline.
        as_attachment=is_original,
    )
    response.headers["Cache-Control"] = cache_control(is_original, expires)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = MEDIA_CSP
    return response


def signed_until(storage: LocalStorage, key: str) -> int | None:
    """The expiry of the request's valid signature, or None when the URL needs none; NotFound for a bad one."""
    if not storage.requires_signature(key):
        return None
    expires = storage.signed_until(key, request.args.get("exp"), request.args.get("sig"))
    if expires is None:
        # The same 404 as a missing file: a bad signature tells nothing about what is stored.
        raise NotFound("No such file.")
    return expires


def cache_lifetime(expires: int | None) -> int:
    """How long a browser may keep the file: MEDIA_MAX_AGE, and for a signed URL no longer than it is valid."""
    max_age = current_app.config["MEDIA_MAX_AGE"]
    return max_age if expires is None else max(0, min(max_age, expires - int(time.time())))


def cache_control(is_original: bool, expires: int | None) -> str:
    """Public and immutable for a plain variant URL; private, and only until it expires, for a signed one."""
    max_age = cache_lifetime(expires)
    # Originals carry the client's metadata (GPS included), and a shared cache would hand a signed file on without
    # its signature: only the browser may keep either.
    if is_original or expires is not None:
        return f"private, max-age={max_age}"
    return f"public, immutable, max-age={max_age}"


def is_public(key: str) -> bool:
    """Variants are public; originals only when SERVE_ORIGINALS says so. Takes only a key check_key passed."""
    if key.startswith("variants/"):
        return True
    return key.startswith("originals/") and current_app.config["SERVE_ORIGINALS"]
