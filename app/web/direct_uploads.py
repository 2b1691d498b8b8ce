"""The direct-upload API: presign a POST to the bucket, then complete the upload once the file is there."""

from flask import Blueprint, jsonify, request, url_for

from app.exceptions import BadRequest, Conflict
from app.models import ImageStatus
from app.pipeline.direct import complete_upload, start_direct_upload
from app.pipeline.resources import image_resource

bp = Blueprint("direct_uploads", __name__, url_prefix="/api")


@bp.post("/uploads")
def create_upload():
    """Answer 201 with a presigned POST the client sends its file to, straight to the bucket."""
    filename, content_type, size = parse_upload_request(request.get_json(silent=True))
    image, post = start_direct_upload(filename, content_type, size)
    body = {
        "id": image.id,
        "status": image.status,
        "upload": {
            "method": "POST",
            "url": post.url,
            "fields": post.fields,
            "expires_at": post.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "complete_url": url_for("direct_uploads.complete", image_id=image.id),
    }
    return jsonify(body), 201, {"Location": url_for("api.get_image", image_id=image.id)}


@bp.post("/images/<image_id>/complete")
def complete(image_id: str):
    """Check the uploaded file and queue its processing (202); calling it again changes nothing."""
    image = complete_upload(image_id)
    if image.image_status is ImageStatus.FAILED:
        raise Conflict(f"This image has failed ({image.error_code}): {image.error_message}")
    return jsonify(image_resource(image)), 202, {"Location": url_for("api.get_image", image_id=image.id)}


def parse_upload_request(body) -> tuple[str | None, str, int]:
    """filename, content_type and bytes from the JSON body, or a 400 naming what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest('Send a JSON object: {"filename": ..., "content_type": ..., "bytes": ...}.')
    filename, content_type, size = body.get("filename"), body.get("content_type"), body.get("bytes")
    if filename is not None and not isinstance(filename, str):
        raise BadRequest("filename must be a string.")
    if not isinstance(content_type, str) or not content_type:
        raise BadRequest("content_type must be a MIME type such as image/jpeg.")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise BadRequest("bytes must be the file's size, a whole number of at least 1.")
    return filename, content_type.strip().lower(), size
