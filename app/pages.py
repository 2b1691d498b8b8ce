"""HTML pages: the upload page with its gallery, and an image's detail page."""

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from app.api import delete_image, find_image, requeue
from app.exceptions import Conflict, NoFile, PixlineError
from app.extensions import db
from app.models import Image, ImageStatus
from app.resources import event_resource, image_resource
from app.uploads import accept_upload

bp = Blueprint("pages", __name__)

GALLERY_SIZE = 24


@bp.get("/")
def index():
    """The upload page and the most recent images."""
    images = db.session.scalars(select(Image).order_by(Image.created_at.desc()).limit(GALLERY_SIZE)).all()
    return render_template("index.html", images=[image_resource(image) for image in images], limits=limits())


@bp.post("/upload")
def upload_form():
    """The no-JavaScript upload: store the file, then show its page."""
    file = request.files.get("file")
    try:
        if file is None or not file.filename and not file.content_length:
            raise NoFile("Choose an image file first.")
        image = accept_upload(file.stream, file.filename)
    except PixlineError as error:
        return render_template("index.html", images=[], limits=limits(), error=error), error.status
    return redirect(url_for("pages.image_detail", image_id=image.id), code=303)


@bp.get("/images/<image_id>")
def image_detail(image_id: str):
    """Everything about one image; refreshes itself while it is being processed."""
    image = find_image(image_id)
    return render_template(
        "image.html",
        image=image_resource(image),
        events=[event_resource(event) for event in image.events],
        is_terminal=image.image_status.is_terminal,
    )


@bp.post("/images/<image_id>/delete")
def delete_form(image_id: str):
    """Delete from the detail page, then go home."""
    delete_image(image_id)
    return redirect(url_for("pages.index"), code=303)


@bp.post("/images/<image_id>/retry")
def retry_form(image_id: str):
    """Retry a failed image from the detail page."""
    image = find_image(image_id)
    if image.image_status is not ImageStatus.FAILED:
        raise Conflict("Only failed images can be retried.")
    requeue(image, "retried from the detail page")
    return redirect(url_for("pages.image_detail", image_id=image_id), code=303)


def limits() -> dict:
    """What the page tells the browser about the server's limits."""
    config = current_app.config
    return {
        "max_bytes": config["MAX_UPLOAD_BYTES"],
        "max_pixels": config["MAX_IMAGE_PIXELS"],
        "types": ["image/jpeg", "image/png", "image/webp", "image/gif"],
    }
