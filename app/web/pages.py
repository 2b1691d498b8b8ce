"""HTML pages: the upload page with its gallery, and an image's detail page."""

from datetime import datetime

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from app.exceptions import Conflict, Forbidden, NoFile, NotFound, PixlineError
from app.imaging import ACCEPT_ATTRIBUTE, BROWSER_TYPES, accepted_names
from app.pipeline import deletion
from app.pipeline.access import WRITE
from app.pipeline.listing import find_image, newest_images
from app.pipeline.requeue import RETRYABLE, RequeueOutcome, requeue_image
from app.pipeline.resources import event_resource, image_resource
from app.pipeline.uploads import accept_upload
from app.web import page_session, ratelimit, sizes
from app.web.page_session import page_principal

bp = Blueprint("pages", __name__)
bp.after_request(page_session.keep_owner_cookie)

ACCEPTED_TYPES = list(BROWSER_TYPES)


@bp.get("/")
def index():
    """The upload page and a page of the most recent images (?cursor= for older ones)."""
    return render_upload_page()


@bp.post("/upload")
def upload_form():
    """The no-JavaScript upload: store each chosen file, then show the image (or the gallery, for several)."""
    if not page_session.page_uploads():
        # PAGE_UPLOADS=off: the page offers no upload, so there is no such form to post to.
        raise NotFound("The upload page takes no uploads here.")
    principal = page_principal()
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
            stored.append(accept_upload(file.stream, file.filename, principal=principal))
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
    image = find_image(image_id, principal=page_principal())
    return render_template(
        "image.html",
        image=image_resource(image),
        events=[event_resource(event) for event in image.events],
        is_terminal=image.image_status.is_terminal,
    )


@bp.post("/images/<image_id>/delete")
def delete_form(image_id: str):
    """Delete from the detail page, then go home."""
    if not deletion.delete_image(image_id, principal=page_principal()):
        raise NotFound("No such image.")
    return redirect(url_for("pages.index"), code=303)


@bp.post("/images/<image_id>/retry")
def retry_form(image_id: str):
    """Retry a failed image from the detail page."""
    principal = page_principal()
    find_image(image_id, principal=principal)
    if not principal.may(WRITE):
        raise Forbidden("Retrying is off here: the page takes no uploads.")
    if requeue_image(image_id, "retried from the detail page", RETRYABLE) is RequeueOutcome.REFUSED:
        raise Conflict("Only failed images can be retried.")
    return redirect(url_for("pages.image_detail", image_id=image_id), code=303)


def render_upload_page(errors: list[PixlineError] | None = None, status: int = 200):
    """The upload page with one page of the gallery and any refusals to show."""
    page_size = current_app.config["GALLERY_PAGE_SIZE"]
    images, next_cursor = newest_images(page_size, request.args.get("cursor"), principal=page_principal())
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


@bp.context_processor
def page_context() -> dict:
    """What every page's template needs: this browser's page token for the scripts, and whether it may upload."""
    return {"page_token": page_session.page_token(), "page_uploads": page_session.page_uploads()}


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
