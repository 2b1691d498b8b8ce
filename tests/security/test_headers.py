"""Served files and pages: stored Content-Type, nosniff, CSP, and a Content-Disposition that cannot be abused."""

import re

import pytest

from app.storage import LocalStorage
from tests import imagegen
from tests.security.conftest import post_file


def store(app, key: str, data: bytes) -> None:
    """Put a file straight into the app's storage."""
    LocalStorage(app.config["STORAGE_ROOT"]).save(key, data, "application/octet-stream")


def assert_strict_media_headers(response, content_type: str) -> None:
    """What every media response carries."""
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("thumb.webp", "image/webp"), ("thumb.jpg", "image/jpeg"), ("thumb.png", "image/png"), ("thumb.gif", "image/gif")],
)
def test_variant_is_served_inline_with_strict_headers(app, client, name, content_type):
    store(app, f"variants/abc/{name}", b"bytes")
    response = client.get(f"/media/variants/abc/{name}")
    assert_strict_media_headers(response, content_type)
    assert response.headers["Content-Disposition"] == f"inline; filename={name}"


def test_variant_with_html_bytes_is_still_served_as_its_stored_type(app, client):
    store(app, "variants/abc/thumb.webp", imagegen.html())
    assert_strict_media_headers(client.get("/media/variants/abc/thumb.webp"), "image/webp")


@pytest.mark.parametrize("name", ["evil.html", "evil.svg", "evil", "evil.webp.html", "evil.JSON"])
def test_stored_file_of_an_unserved_type_is_404(app, client, name):
    store(app, f"variants/abc/{name}", imagegen.html())
    assert client.get(f"/media/variants/abc/{name}").status_code == 404


def test_originals_are_private_by_default(app, client):
    body = post_file(client, imagegen.jpeg_with_metadata()).get_json()
    assert body["original_url"] is None
    assert client.get(f"/media/originals/{body['id']}.jpg").status_code == 404


def test_served_original_is_an_attachment_with_strict_headers(make_app):
    app = make_app(SERVE_ORIGINALS=True)
    client = app.test_client()
    body = post_file(client, imagegen.solid_jpeg((16, 16)) + imagegen.html(), "<x>.html").get_json()
    response = client.get(body["original_url"])
    assert_strict_media_headers(response, "image/jpeg")
    assert response.headers["Content-Disposition"] == f"attachment; filename={body['id']}.jpg"


def test_media_outside_variants_and_originals_is_404(app, client):
    store(app, "elsewhere/a.jpg", imagegen.solid_jpeg((8, 8)))
    assert client.get("/media/elsewhere/a.jpg").status_code == 404


CSP_PARTS = {"default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "base-uri 'none'"}


def page_urls(client) -> list[str]:
    """The HTML pages: upload page, an image page, an HTML error page."""
    image_id = post_file(client, imagegen.solid_jpeg((8, 8))).get_json()["id"]
    return ["/", f"/images/{image_id}", "/no-such-page"]


def test_pages_send_a_csp_of_only_their_own_scripts_and_styles(client):
    for url in page_urls(client):
        response = client.get(url, headers={"Accept": "text/html"})
        assert response.mimetype == "text/html"
        policy = {part.strip() for part in response.headers["Content-Security-Policy"].split(";")}
        assert policy >= CSP_PARTS, url
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_script_the_csp_would_block(client):
    for url in page_urls(client):
        html = client.get(url).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert not re.search(r"\son[a-z]+=", html), url


def test_served_original_is_cached_only_privately(make_app):
    app = make_app(SERVE_ORIGINALS=True)
    client = app.test_client()
    body = post_file(client, imagegen.jpeg_with_metadata()).get_json()
    directives = {part.strip() for part in client.get(body["original_url"]).headers["Cache-Control"].split(",")}
    assert directives == {"private", f"max-age={app.config['MEDIA_MAX_AGE']}"}


def test_variant_is_cached_publicly_and_immutably(app, client):
    store(app, "variants/abc/thumb.webp", b"bytes")
    directives = {
        part.strip() for part in client.get("/media/variants/abc/thumb.webp").headers["Cache-Control"].split(",")
    }
    assert directives == {"public", "immutable", f"max-age={app.config['MEDIA_MAX_AGE']}"}
