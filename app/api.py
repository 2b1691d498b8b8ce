"""The JSON API: upload, inspect, list, delete and retry images."""

import base64
import time
from datetime import datetime

from flask import Blueprint, current_app, jsonify, request, url_for
from sqlalchemy import select

from app import deletion
from app.exceptions import BadRequest, Conflict, NoFile, NotFound
from app.extensions import db
from app.models import Image, ImageStatus
from app.notify import StatusListener
from app.raw_uploads import accept_raw_upload, is_raw_upload
from app.requeue import RETRYABLE, RequeueOutcome, requeue_image
from app.resources import image_resource
from app.uploads import accept_upload

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_PAGE = 100


@bp.post("/images")
def upload_image():
    """Accept one image, in the multipart field 'file' or as the raw body; answer 202 at once."""
    if is_raw_upload(request):
        image = accept_raw_upload(request)
    else:
        files = request.files.getlist("file")
        if len(files) != 1 or len(request.files) != 1 or not files[0]:
            raise NoFile()
        image = accept_upload(files[0].stream, files[0].filename)
    response = jsonify(image_resource(image))
    return response, 202, {"Location": url_for("api.get_image", image_id=image.id)}


@bp.get("/images/<image_id>")
def get_image(image_id: str):
    """One image; with ?wait=N it waits up to N seconds for its status to change from ?status=."""
    image = find_image(image_id)
    wait = bounded_int(request.args.get("wait"), "wait", 0, current_app.config["LONG_POLL_MAX_SECONDS"])
    if wait:
        image = wait_for_change(image, request.args.get("status") or image.status, wait)
    return jsonify(image_resource(image))


@bp.get("/images")
def list_images():
    """Images newest first, a page at a time: {items, next_cursor}."""
    limit = bounded_int(request.args.get("limit"), "limit", 1, MAX_PAGE) or 20
    images, next_cursor = newest_images(limit, request.args.get("cursor"), request.args.get("status"))
    return jsonify({"items": [image_resource(image) for image in images], "next_cursor": next_cursor})


def newest_images(limit: int, cursor: str | None = None, status: str | None = None) -> tuple[list[Image], str | None]:
    """One page of images, newest first, and the cursor of the next page (None on the last)."""
    query = select(Image).where(Image.status != ImageStatus.DELETING.value)
    query = query.order_by(Image.created_at.desc(), Image.id.desc())
    if status:
        if status not in {s.value for s in ImageStatus} - {ImageStatus.DELETING.value}:
            raise BadRequest(f"Unknown status {status!r}.")
        query = query.where(Image.status == status)
    if cursor:
        query = query.where(_before_cursor(cursor))
    images = db.session.scalars(query.limit(limit + 1)).all()
    next_cursor = encode_cursor(images[limit - 1]) if len(images) > limit else None
    return list(images[:limit]), next_cursor


@bp.delete("/images/<image_id>")
def delete_image(image_id: str):
    """Remove every stored file of an image, then its row; after a 503 the same DELETE finishes the job."""
    if len(image_id) > 64 or not deletion.delete_image(image_id):
        raise NotFound(f"No image with id {image_id!r}.")
    return "", 204


@bp.post("/images/<image_id>/retry")
def retry_image(image_id: str):
    """Re-enqueue a failed image (with Redis down it stays queued and the reconciler enqueues it)."""
    image = find_image(image_id)
    if requeue_image(image.id, "retried through the API", RETRYABLE) is RequeueOutcome.REFUSED:
        raise Conflict(f"Only failed images can be retried; this one is {find_image(image_id).status}.")
    image = find_image(image_id)
    return jsonify(image_resource(image)), 202, {"Location": url_for("api.get_image", image_id=image.id)}


def find_image(image_id: str) -> Image:
    """The image with this id, or a 404."""
    image = db.session.get(Image, image_id) if len(image_id) <= 64 else None
    # An image being deleted is gone as far as clients can tell; only DELETE itself still finds it.
    if image is None or image.status == ImageStatus.DELETING.value:
        raise NotFound(f"No image with id {image_id!r}.")
    return image


def bounded_int(raw: str | None, name: str, low: int, high: int) -> int:
    """A query parameter as a whole number clamped to [low, high]; 0 when absent."""
    if raw in (None, ""):
        return 0
    try:
        return max(low, min(high, int(raw)))
    except ValueError:
        raise BadRequest(f"{name} must be a whole number.") from None


def wait_for_change(image: Image, known_status: str, seconds: int) -> Image:
    """Long-poll: return as soon as the image's status differs from known_status, or after seconds."""
    image_id = image.id
    deadline = time.monotonic() + seconds
    listener = StatusListener(image_id)
    try:
        while image.status == known_status:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # End the transaction while waiting, so no database connection is held by an idle poll.
            db.session.rollback()
            listener.wait(min(remaining, listener.recheck_seconds))
            image = db.session.get(Image, image_id, populate_existing=True)
            if image is None or image.status == ImageStatus.DELETING.value:
                raise NotFound(f"Image {image_id!r} was deleted.")
    finally:
        listener.close()
    return image


def encode_cursor(image: Image) -> str:
    """An opaque cursor pointing just after this image in newest-first order."""
    raw = f"{image.created_at.isoformat()}|{image.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _before_cursor(cursor: str):
    """The filter for the items that come after the cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, image_id = raw.split("|", 1)
        created_at = datetime.fromisoformat(moment)
    except ValueError:
        raise BadRequest("The cursor is not one this API issued.") from None
    return (Image.created_at < created_at) | ((Image.created_at == created_at) & (Image.id < image_id))
