"""Serving stored files of the local backend, safely and cacheably."""

from flask import Blueprint, current_app, send_file

from app.exceptions import NotFound
from app.storage import LocalStorage, check_key, get_storage

bp = Blueprint("media", __name__)

SERVED_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}
# Nothing in a served file may load, run or frame anything, even if a browser were talked into rendering it.
MEDIA_CSP = "default-src 'none'; sandbox"


@bp.get("/media/<path:key>")
def serve(key: str):
    """A stored variant (or original, when SERVE_ORIGINALS is on) with strict headers."""
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        raise NotFound("No such file.")
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
        max_age=current_app.config["MEDIA_MAX_AGE"],
        # The server-made name (<id>.<ext>, <variant>.<ext>), never the client's; Werkzeug quotes it.
        download_name=path.name,
        # Originals are the client's bytes as sent (polyglots included): download them, never render them inline.
        as_attachment=is_original,
    )
    # Originals carry the client's metadata (GPS included): no shared cache may keep them, as on S3.
    visibility = "private" if is_original else "public, immutable"
    response.headers["Cache-Control"] = f"{visibility}, max-age={current_app.config['MEDIA_MAX_AGE']}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = MEDIA_CSP
    return response


def is_public(key: str) -> bool:
    """Variants are public; originals only when SERVE_ORIGINALS says so. Takes only a key check_key passed."""
    if key.startswith("variants/"):
        return True
    return key.startswith("originals/") and current_app.config["SERVE_ORIGINALS"]
