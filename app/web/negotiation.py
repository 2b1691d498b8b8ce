"""One URL per variant, `/media/variants/<id>/<name>`, answered in the best format the browser's Accept takes.

AVIF and WebP are chosen only when Accept names them (browsers that decode them say so; `image/*` or `*/*` alone
promises nothing, as older browsers send exactly that), best first (AVIF, then WebP); otherwise the most compatible
stored format Accept allows (JPEG or PNG, else WebP, else AVIF). A format named with q=0 is never chosen while
another is stored. No Accept at all gets the most compatible format. The extension URLs (`<name>.<digest>.<ext>`,
what the API's `url` and `sources` give) keep being served as they are.
"""

from collections.abc import Sequence

from flask import Blueprint, current_app, redirect
from flask import request as flask_request
from werkzeug.datastructures import MIMEAccept

from app.imaging import OUTPUT_FORMATS
from app.pipeline.listing import find_variant
from app.storage import LocalStorage, get_storage
from app.web import media

bp = Blueprint("negotiation", __name__)

# The redirect to a chosen S3 object is not content-addressed (a reprocess changes it) and presigned URLs expire.
REDIRECT_MAX_AGE = 60


@bp.get("/media/variants/<image_id>/<name>")
def negotiated_variant(image_id: str, name: str):
    """The variant in the format Accept prefers (Vary: Accept); a name with an extension is a stored key."""
    if "." in name:
        return media.serve(f"variants/{image_id}/{name}")
    variant = find_variant(image_id, name)
    files = {file.format: file for file in variant.files}
    chosen = files[choose_format(list(files), flask_request.accept_mimetypes)]
    storage = get_storage()
    if isinstance(storage, LocalStorage):
        response = media.serve(chosen.key)
    else:
        response = redirect(storage.url(chosen.key), 302)
        max_age = min(REDIRECT_MAX_AGE, current_app.config["MEDIA_URL_TTL"])
        response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.vary.add("Accept")
    return response


def choose_format(stored: Sequence[str], accept: MIMEAccept) -> str:
    """The stored format to send for this Accept header (see the module's docstring for the rules)."""
    best_first = sorted(stored, key=lambda name: OUTPUT_FORMATS[name].rank)
    named = {value.lower(): quality for value, quality in accept}
    for name in best_first:
        if named.get(OUTPUT_FORMATS[name].content_type, 0) > 0:
            return name
    if not accept:
        return best_first[-1]
    for name in best_first:
        output = OUTPUT_FORMATS[name]
        if not output.must_be_named and accept.quality(output.content_type) > 0:
            return name
    not_refused = [name for name in best_first if named.get(OUTPUT_FORMATS[name].content_type, 1) > 0]
    return (not_refused or best_first)[-1]
