"""The JSON API: upload, inspect, list, delete and retry images, and an owner's usage; each within the key's owner."""

from flask import Blueprint, current_app, jsonify, request, url_for

from app.exceptions import BadRequest, Conflict, NoFile, NotFound
from app.pipeline import deletion, quotas
from app.pipeline.access import DELETE, READ, WRITE
from app.pipeline.listing import find_image, newest_images
from app.pipeline.notify import wait_for_change
from app.pipeline.requeue import RETRYABLE, RequeueOutcome, requeue_image
from app.pipeline.resources import image_resource
from app.pipeline.uploads import accept_upload
from app.web.auth import require
from app.web.raw_uploads import accept_raw_upload, is_raw_upload

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_PAGE = 100


@bp.post("/images")
def upload_image():
    """Accept one image, in the multipart field 'file' or as the raw body; answer 202 at once."""
    principal = require(WRITE)
    if is_raw_upload(request):
        image = accept_raw_upload(request, principal=principal)
    else:
        files = request.files.getlist("file")
        if len(files) != 1 or len(request.files) != 1 or not files[0]:
            raise NoFile()
        image = accept_upload(files[0].stream, files[0].filename, principal=principal)
    response = jsonify(image_resource(image))
    return response, 202, {"Location": url_for("api.get_image", image_id=image.id)}


@bp.get("/images/<image_id>")
def get_image(image_id: str):
    """One image; with ?wait=N it waits up to N seconds for its status to change from ?status=."""
    image = find_image(image_id, principal=require(READ))
    wait = bounded_int(request.args.get("wait"), "wait", 0, current_app.config["LONG_POLL_MAX_SECONDS"])
    if wait:
        image = wait_for_change(image, request.args.get("status") or image.status, wait)
    return jsonify(image_resource(image))


@bp.get("/images")
def list_images():
    """Images newest first, a page at a time: {items, next_cursor}."""
    principal = require(READ)
    limit = bounded_int(request.args.get("limit"), "limit", 1, MAX_PAGE) or 20
    cursor, status = request.args.get("cursor"), request.args.get("status")
    images, next_cursor = newest_images(limit, cursor, status, principal=principal)
    return jsonify({"items": [image_resource(image) for image in images], "next_cursor": next_cursor})


@bp.delete("/images/<image_id>")
def delete_image(image_id: str):
    """Remove every stored file of an image, then its row; after a 503 the same DELETE finishes the job."""
    principal = require(DELETE)
    if len(image_id) > 64 or not deletion.delete_image(image_id, principal=principal):
        raise NotFound(f"No image with id {image_id!r}.")
    return "", 204


@bp.post("/images/<image_id>/retry")
def retry_image(image_id: str):
    """Re-enqueue a failed image (with Redis down it stays queued and the reconciler enqueues it)."""
    principal = require(WRITE)
    image = find_image(image_id, principal=principal)
    if requeue_image(image.id, "retried through the API", RETRYABLE) is RequeueOutcome.REFUSED:
        raise Conflict(f"Only failed images can be retried; this one is {find_image(image_id, principal).status}.")
    image = find_image(image_id, principal=principal)
    return jsonify(image_resource(image)), 202, {"Location": url_for("api.get_image", image_id=image.id)}


@bp.get("/usage")
def usage():
    """What the key's owner stores and has uploaded today, and the limits that apply."""
    principal = require(READ)
    return jsonify(quotas.usage_of(principal).as_dict())


def bounded_int(raw: str | None, name: str, low: int, high: int) -> int:
    """A query parameter as a whole number clamped to [low, high]; 0 when absent."""
    if raw in (None, ""):
        return 0
    try:
        return max(low, min(high, int(raw)))
    except ValueError:
        raise BadRequest(f"{name} must be a whole number.") from None
