"""The HTML pages with the Flask test client: CSRF, the no-JavaScript form path, the CSP and the gallery."""

import io
import re
from html.parser import HTMLParser

import pytest
from PIL import Image as PILImage

from app.extensions import db
from app.models import Image, ImageStatus
from tests.support.browsers import as_browser
from tests.support.images import encoded
from tests.unit.test_api import assert_nothing_stored, post_file, queued_job_ids, stored_files


@pytest.fixture
def client(app):
    """One browser: the pages see its owner cookie, the API its page token (the same anonymous owner)."""
    return as_browser(app.test_client())


def csrf_token(client, path: str = "/") -> str:
    """The CSRF token a page's form carries (tied to the client's session cookie)."""
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def post_form(client, data: bytes | None, token: str | None, filename: str = "photo.jpg"):
    """Submit the upload form as a browser without JavaScript would."""
    form = {"file": (io.BytesIO(data), filename)} if data is not None else {}
    if token is not None:
        form["csrf_token"] = token
    return client.post("/upload", data=form, content_type="multipart/form-data")


def set_status(app, image_id: str, status: ImageStatus) -> None:
    """Move an image to a status, as a worker would."""
    with app.app_context():
        db.session.get(Image, image_id).status = status.value
        db.session.commit()


class Markup(HTMLParser):
    """Collects what the CSP cares about: inline scripts, style attributes, style elements, external URLs."""

    def __init__(self):
        super().__init__()
        self.inline_scripts, self.style_attributes, self.style_elements, self.urls = 0, 0, 0, []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.inline_scripts += tag == "script" and "src" not in attributes
        self.style_attributes += "style" in attributes
        self.style_elements += tag == "style"
        self.urls += [attributes[name] for name in ("src", "href", "action") if attributes.get(name)]


def test_form_upload_with_token_redirects_to_the_detail_page(app, client, fake_redis):
    response = post_form(client, encoded(320, 200), csrf_token(client))
    assert response.status_code == 303
    image_id = response.headers["Location"].rsplit("/", 1)[1]
    assert response.headers["Location"] == f"/images/{image_id}"
    assert queued_job_ids(app, fake_redis) == [f"image-{image_id}"]
    page = client.get(f"/images/{image_id}").get_data(as_text=True)
    assert "photo.jpg" in page and "320 × 200 px" in page


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_form_upload_without_a_valid_token_is_refused_and_stores_nothing(app, client, fake_redis, token):
    client.get("/")  # a session exists, so only the token is missing or wrong
    response = post_form(client, encoded(), token)
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert_nothing_stored(app, fake_redis)


def test_form_token_from_another_session_is_refused(app, client, fake_redis):
    stolen = csrf_token(app.test_client())
    client.get("/")
    assert post_form(client, encoded(), stolen).status_code == 400
    assert_nothing_stored(app, fake_redis)


def test_delete_form_without_token_keeps_the_image(app, client):
    image_id = post_file(client, encoded()).get_json()["id"]
    assert client.post(f"/images/{image_id}/delete").status_code == 400
    assert client.get(f"/api/images/{image_id}").status_code == 200


def test_delete_form_with_token_removes_row_and_files(app, client):
    image_id = post_file(client, encoded()).get_json()["id"]
    token = csrf_token(client, f"/images/{image_id}")
    response = client.post(f"/images/{image_id}/delete", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert client.get(f"/api/images/{image_id}").status_code == 404
    assert stored_files(app) == []


def test_retry_form_requeues_a_failed_image(app, client, fake_redis):
    image_id = post_file(client, encoded()).get_json()["id"]
    set_status(app, image_id, ImageStatus.FAILED)
    token = csrf_token(client, f"/images/{image_id}")
    response = client.post(f"/images/{image_id}/retry", data={"csrf_token": token})
    assert response.status_code == 303
    assert client.get(f"/api/images/{image_id}").get_json()["status"] == "queued"


def test_form_refusal_shows_the_servers_message_and_stores_nothing(app, client, fake_redis):
    response = post_form(client, b"just some text", csrf_token(client), "notes.jpg")
    assert response.status_code == 415
    assert "Only JPEG, PNG, WebP, GIF, HEIC and AVIF images are accepted." in response.get_data(as_text=True)
    assert_nothing_stored(app, fake_redis)


def test_form_without_a_file_asks_for_one(app, client, fake_redis):
    response = post_form(client, None, csrf_token(client))
    assert response.status_code == 400
    assert "Choose an image file first." in response.get_data(as_text=True)
    assert_nothing_stored(app, fake_redis)


def test_form_with_several_files_stores_each_and_shows_the_gallery(app, client):
    files = [(io.BytesIO(encoded()), "a.jpg"), (io.BytesIO(encoded()), "b.jpg")]
    form = {"csrf_token": csrf_token(client), "file": files}
    response = client.post("/upload", data=form, content_type="multipart/form-data")
    assert response.status_code == 303 and response.headers["Location"] == "/#gallery"
    assert len(stored_files(app)) == 2


def test_detail_page_refreshes_itself_only_while_processing(app, client):
    image_id = post_file(client, encoded()).get_json()["id"]
    refresh = '<meta http-equiv="refresh"'
    assert refresh in client.get(f"/images/{image_id}").get_data(as_text=True)
    set_status(app, image_id, ImageStatus.FAILED)
    assert refresh not in client.get(f"/images/{image_id}").get_data(as_text=True)


def test_unknown_image_page_is_a_readable_404(client):
    response = client.get("/images/nope")
    assert response.status_code == 404
    assert "No image with id" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/images/nope"])
def test_html_pages_send_a_csp_without_inline_allowances(client, path):
    policy = client.get(path).headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_json_api_answers_keep_their_own_headers(client):
    assert "Content-Security-Policy" not in client.get("/api/images").headers


def test_pages_have_no_inline_script_or_style_and_no_foreign_assets(app, client):
    image_id = post_file(client, encoded()).get_json()["id"]
    for path in ["/", f"/images/{image_id}"]:
        markup = Markup()
        markup.feed(client.get(path).get_data(as_text=True))
        assert (markup.inline_scripts, markup.style_attributes, markup.style_elements) == (0, 0, 0), path
        assert [url for url in markup.urls if "//" in url] == [], path


def test_upload_page_tells_the_browser_the_servers_limits(app, client):
    html = client.get("/").get_data(as_text=True)
    assert f'data-max-bytes="{app.config["MAX_UPLOAD_BYTES"]}"' in html
    assert 'data-types="image/jpeg,image/png,image/webp,image/gif,image/heic,image/avif,image/heif"' in html
    assert 'aria-live="polite"' in html and '<label for="file-input"' in html


def test_gallery_pages_through_images_newest_first(app, client):
    app.config["GALLERY_PAGE_SIZE"] = 2
    for name in ["one.jpg", "two.jpg", "three.jpg"]:
        post_file(client, encoded(), name)
    first = client.get("/").get_data(as_text=True)
    assert re.findall(r'class="tile-name">([^<]+)<', first) == ["three.jpg", "two.jpg"]
    more = re.search(r'id="load-more" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(more).get_data(as_text=True)
    assert re.findall(r'class="tile-name">([^<]+)<', second) == ["one.jpg"]
    assert 'id="load-more"' not in second


def test_csp_sources_can_be_extended_for_another_origin(app, client):
    from app.web.security_headers import add_sources

    add_sources(app, "img-src", "https://bucket.example")
    add_sources(app, "img-src", "https://bucket.example")
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "img-src 'self' blob: https://bucket.example;" in policy


def test_favicon_the_dashboard_asks_for_is_an_icon(app, client):
    page = client.get("/rq/", headers={"Authorization": "Basic YWRtaW46czNjcmV0"}).get_data(as_text=True)
    href = re.search(r'<link rel="shortcut icon" href="([^"]+)"', page).group(1)
    response = client.get(href)
    assert href == "/static/favicon.ico" and response.status_code == 200
    icon = PILImage.open(io.BytesIO(response.data))
    assert icon.format == "ICO" and {(16, 16), (32, 32)} <= set(icon.info["sizes"])
