"""HTML pages: the upload page with its gallery, and an image's detail page."""

import re
from datetime import datetime

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from markupsafe import Markup, escape

from app.exceptions import Conflict, Forbidden, NoFile, NotFound, PixlineError
from app.imaging import ACCEPT_ATTRIBUTE, BROWSER_TYPES, accepted_names
from app.pipeline import deletion
from app.pipeline.access import WRITE
from app.pipeline.listing import find_image, newest_images
from app.pipeline.requeue import RETRYABLE, RequeueOutcome, requeue_image
from app.pipeline.resources import event_resource, image_resource
from app.pipeline.uploads import accept_upload
from app.web import failures, page_session, page_signin, ratelimit, sizes
from app.web.page_session import page_principal

bp = Blueprint("pages", __name__)
bp.after_request(page_session.keep_owner_cookie)

ACCEPTED_TYPES = list(BROWSER_TYPES)
# How wide a gallery tile is drawn (app.css: two columns up to 640 px; then 160 px and up, at most ~218 px; from
# 1040 px the panel's 942 px hold five 176 px columns): the browser picks the variant from the tile's width, times
# the cover factor of a picture wider than the tile's 4:3.
TILE_SIZES = (("(max-width: 640px)", "50vw - 34px"), ("(max-width: 1039px)", "220px"), ("", "176px"))
TILE_ASPECT = 4 / 3
# The preview on the detail page: the panel's width up to 900 px (less its padding), else its left column.
PREVIEW_SIZES = "(max-width: 640px) calc(100vw - 58px), (max-width: 900px) calc(100vw - 98px), 520px"
# Output formats as people name them.
FORMAT_NAMES = {"avif": "AVIF", "webp": "WebP", "jpeg": "JPEG", "png": "PNG", "gif": "GIF"}
# Where a long file name may break before it must break anywhere: after its own separators.
NAME_SEPARATORS = re.compile(r"([_\-.])")


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
    resource = image_resource(image)
    return render_template(
        "image.html",
        image=resource,
        failure=failures.describe(resource["error"]),
        events=[event_resource(event) for event in image.events],
        is_terminal=image.image_status.is_terminal,
        preview_sizes=PREVIEW_SIZES,
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
    image = find_image(image_id, principal=principal)
    if not principal.may(WRITE):
        raise Forbidden("Retrying is off here: the page takes no uploads.")
    if image.error_code and not failures.is_retryable(image.error_code):
        raise Conflict("This image cannot be processed, so a retry would fail again. Upload a complete copy instead.")
    if requeue_image(image_id, "retried from the detail page", RETRYABLE) is RequeueOutcome.REFUSED:
        raise Conflict("Only failed images can be retried.")
    return redirect(url_for("pages.image_detail", image_id=image_id), code=303)


@bp.get("/signin")
def signin_page():
    """The page make run's one-time link opens; its script posts the link's code (in the fragment, never sent)."""
    return render_template("signin.html")


@bp.post("/signin")
def signin_form():
    """Redeem a one-time sign-in link: this browser acts as the owner it names, then sees that owner's gallery."""
    owner_id = page_signin.redeem(request.form.get("token", ""))
    return page_signin.start_session(redirect(url_for("pages.index", _anchor="gallery"), code=303), owner_id)


@bp.post("/signout")
def signout_form():
    """Back to this browser's anonymous owner."""
    return page_signin.end_session(redirect(url_for("pages.index"), code=303))


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
        failure_texts=failures.page_texts(),
        tile_sizes=[list(pair) for pair in TILE_SIZES],
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
    """What every page's template needs: the page token for the scripts, whether it may upload, who signed in."""
    owner_id = page_session.page_owner()
    return {
        "page_token": page_session.page_token(),
        "page_uploads": page_session.page_uploads(),
        "signed_in_owner": owner_id if g.page_owner_is_signed_in else None,
    }


@bp.app_template_global("tile_sizes_of")
def tile_sizes_of(image: dict) -> str:
    """The `sizes` of a gallery tile's picture: the tile's width, or more for a picture wider than 4:3 (cover)."""
    return tile_sizes(cover_factor(image, TILE_ASPECT))


def tile_sizes(factor: float) -> str:
    """TILE_SIZES scaled by factor; app/static/upload.js builds the same text for tiles it adds."""
    return ", ".join(f"{media} calc(({length}) * {factor:g})".strip() for media, length in TILE_SIZES)


def cover_factor(image: dict, box_aspect: float) -> float:
    """How much wider than its box a picture is drawn when it covers the box (1 for one no wider than the box)."""
    if not image.get("width") or not image.get("height"):
        return 1
    return round(max(1.0, image["width"] / image["height"] / box_aspect), 3)


@bp.app_template_filter("filesize")
def filesize(count: int | None) -> str:
    """Bytes in the units the README states limits in: 812 B, 14.2 KiB, 25 MiB (app/web/sizes.py)."""
    return sizes.filesize(count)


@bp.app_template_filter("format_name")
def format_name(name: str) -> str:
    """An output format as people name it: AVIF, WebP."""
    return FORMAT_NAMES.get(name, name.upper())


@bp.app_template_filter("breakable")
def breakable(name: str) -> Markup:
    """A file name that may wrap after its separators (IMG_2024_…), so a narrow screen breaks it there first."""
    return Markup(NAME_SEPARATORS.sub(r"\1<wbr>", str(escape(name or ""))))


@bp.app_template_filter("moment")
def moment(iso_timestamp: str | None) -> str:
    """An API timestamp as people read it: 2025-03-01 14:05:09 UTC."""
    if not iso_timestamp:
        return "—"
    return datetime.fromisoformat(iso_timestamp.rstrip("Z")).strftime("%Y-%m-%d %H:%M:%S UTC")
