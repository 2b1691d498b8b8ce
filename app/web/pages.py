"""HTML pages: the upload page with its gallery, and an image's detail page."""

from datetime import datetime

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from app.exceptions import Conflict, NoFile, NotFound, PixlineError
from app.imaging import ACCEPT_ATTRIBUTE, BROWSER_TYPES, accepted_names
from app.pipeline import deletion
from app.pipeline.listing import find_image, newest_images
from app.pipeline.requeue import RETRYABLE, RequeueOutcome, requeue_image
from app.pipeline.resources import event_resource, image_resource
from app.pipeline.uploads import accept_upload
from app.web import ratelimit, sizes

bp = Blueprint("pages", __name__)

ACCEPTED_TYPES = list(BROWSER_TYPES)


@bp.get("/")
def index():
    """The upload page and a page of the most recent images (?cursor= for older ones)."""
    return render_upload_page()


@bp.post("/upload")
def upload_form():
    """The no-JavaScript upload: store each chosen file, then show the image (or the gallery, for several)."""
    files = [file for file in request.files.getlist("file") if file.filename or file.content_length]
    if not files:
        return render_upload_page(errors=[NoFile("Choose an image file first.")], status=400)
    # Each file is one upload against RATE_LIMIT: those past the client's budget are refused, never stored.
    allowed, retry_after = ratelimit.allow_uploads(len(files))
    stored, errors = [], []
    for index, file in enumerate(files):
        try:
            if index >= allowed:
                raise ratelimit.refusal(retry_after)
            stored.append(accept_upload(file.stream, file.filename))
        except PixlineError as error:
            error.message = f"{file.filename}: {error.message}" if len(files) > 1 else error.message
            errors.append(error)
    if errors:
        html, status = render_upload_page(errors=errors, status=200 if stored else errors[0].status)
        return html, status, {"Retry-After": str(retry_after)} if retry_after else {}
    if len(stored) == 1:
        return redirect(url_for("pages.image_detail", image_id=stored[0].id), code=303)
    return redirect(url_for("pages.index", _anchor="gallery"), code=303)


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
    if not deletion.delete_image(image_id):
        raise NotFound("No such image.")
    return redirect(url_for("pages.index"), code=303)


@bp.post("/images/<image_id>/retry")
def retry_form(image_id: str):
    """Retry a failed image from the detail page."""
    find_image(image_id)
    if requeue_image(image_id, "retried from the detail page", RETRYABLE) is RequeueOutcome.REFUSED:
        raise Conflict("Only failed images can be retried.")
    return redirect(url_for("pages.image_detail", image_id=image_id), code=303)


def render_upload_page(errors: list[PixlineError] | None = None, status: int = 200):
    """The upload page with one page of the gallery and any refusals to show."""
    page_size = current_app.config["GALLERY_PAGE_SIZE"]
    images, next_cursor = newest_images(page_size, request.args.get("cursor"))
    html = render_template(
        "index.html",
        images=[image_resource(image) for image in images],
        next_cursor=next_cursor,
        page_size=page_size,
        limits=limits(),
        errors=errors or [],
    )
    return html, status


def limits() -> dict:
    """What the page tells the browser about the server's limits."""
    config = current_app.config
    return {
        "max_bytes": config["MAX_UPLOAD_BYTES"],
        "max_pixels": config["MAX_IMAGE_PIXELS"],
        "types": ACCEPTED_TYPES,
        "accept": ACCEPT_ATTRIBUTE,
        "names": accepted_names(),
    }


@bp.app_template_filter("filesize")
def filesize(count: int | None) -> str:
    """Bytes in the unit people read: 812 B, 14.2 kB, 1 MB (decimal, as app/sizes.py explains)."""
    return sizes.filesize(count)


@bp.app_template_filter("moment")
def moment(iso_timestamp: str | None) -> str:
    """An API timestamp as people read it: 2025-03-01 14:05:09 UTC."""
    if not iso_timestamp:
        return "—"
    return datetime.fromisoformat(iso_timestamp.rstrip("Z")).strftime("%Y-%m-%d %H:%M:%S UTC")
