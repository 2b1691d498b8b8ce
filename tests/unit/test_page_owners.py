"""The pages act within the browser's anonymous owner: its own gallery, its own image pages, Retry and Delete."""

import io

import pytest

from app.models import ImageStatus
from app.pipeline.access import DELETE, READ, WRITE
from app.web.page_session import OWNER_COOKIE, principal_from_page_token
from tests.conftest import authorize
from tests.support.browsers import TOKEN_META, page_token
from tests.support.images import encoded
from tests.unit.test_pages import csrf_token, set_status


def owner_cookie(browser):
    """This browser's owner cookie, if it has one."""
    return browser.get_cookie(OWNER_COOKIE)


def upload_form(browser, name: str = "photo.jpg") -> str:
    """Upload through the no-JavaScript form; the new image's id."""
    form = {"file": (io.BytesIO(encoded(64, 48)), name), "csrf_token": csrf_token(browser)}
    response = browser.post("/upload", data=form, content_type="multipart/form-data")
    assert response.status_code == 303
    return response.headers["Location"].rsplit("/", 1)[1]


@pytest.fixture
def alice(app):
    """One browser."""
    return app.test_client()


@pytest.fixture
def bob(app):
    """Another browser."""
    return app.test_client()


def test_a_first_visit_sets_a_signed_http_only_same_site_lax_owner_cookie(alice):
    response = alice.get("/")
    header = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith(OWNER_COOKIE + "="))
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in header.split(";")}
    assert "httponly" in attributes
    assert attributes["samesite"] == "SameSite=Lax"
    value = header.split(";")[0].partition("=")[2]
    assert "anon_" not in value and "." in value  # a signed value, not the bare owner id


def test_the_owner_stays_the_same_across_visits_and_its_token_resolves_to_it(app, alice):
    first = principal_from_token(app, page_token(alice))
    second = principal_from_token(app, page_token(alice))
    assert first.owner_id == second.owner_id
    assert first.owner_id.startswith("anon_")
    assert first.scopes == {READ, WRITE, DELETE}


def principal_from_token(app, token: str):
    """The principal a page token stands for."""
    with app.test_request_context("/api/images"):
        return principal_from_page_token(token)


def test_two_browsers_get_different_owners(app, alice, bob):
    assert principal_from_token(app, page_token(alice)).owner_id != principal_from_token(app, page_token(bob)).owner_id


def test_pages_holding_a_token_are_never_stored_by_caches(alice):
    response = alice.get("/")
    assert response.headers["Cache-Control"] == "no-store"
    assert "Cookie" in response.headers["Vary"]


def test_the_gallery_shows_only_this_browsers_images(alice, bob):
    upload_form(alice, "alices.jpg")
    upload_form(bob, "bobs.jpg")
    alice_page, bob_page = alice.get("/").get_data(as_text=True), bob.get("/").get_data(as_text=True)
    assert "alices.jpg" in alice_page and "bobs.jpg" not in alice_page
    assert "bobs.jpg" in bob_page and "alices.jpg" not in bob_page


def test_another_browsers_image_page_is_404_like_a_missing_one(alice, bob):
    image_id = upload_form(alice)
    assert alice.get(f"/images/{image_id}").status_code == 200
    assert bob.get(f"/images/{image_id}").status_code == 404
    assert bob.get(f"/images/{'0' * 32}").status_code == 404


def test_another_browser_cannot_delete_or_retry_the_image(app, alice, bob):
    image_id = upload_form(alice)
    set_status(app, image_id, ImageStatus.FAILED)
    token = csrf_token(bob)
    assert bob.post(f"/images/{image_id}/delete", data={"csrf_token": token}).status_code == 404
    assert bob.post(f"/images/{image_id}/retry", data={"csrf_token": token}).status_code == 404
    assert alice.get(f"/images/{image_id}").status_code == 200
    assert "failed" in alice.get(f"/images/{image_id}").get_data(as_text=True)


def test_the_owning_browser_deletes_its_image(alice):
    image_id = upload_form(alice)
    assert alice.post(f"/images/{image_id}/delete", data={"csrf_token": csrf_token(alice)}).status_code == 303
    assert alice.get(f"/images/{image_id}").status_code == 404


def test_the_page_token_acts_on_the_api_as_the_browser(app, alice, bob):
    image_id = upload_form(alice)
    api = authorize(app.test_client(), page_token(alice))
    assert api.get(f"/api/images/{image_id}").status_code == 200
    assert [item["id"] for item in api.get("/api/images").get_json()["items"]] == [image_id]
    other = authorize(app.test_client(), page_token(bob))
    assert other.get(f"/api/images/{image_id}").status_code == 404
    assert other.delete(f"/api/images/{image_id}").status_code == 404


def test_the_api_ignores_the_owner_cookie(app, alice):
    upload_form(alice)
    assert alice.get("/api/images").status_code == 401


def test_an_api_upload_with_the_page_token_joins_the_browsers_gallery(app, alice):
    api = authorize(app.test_client(), page_token(alice))
    form = {"file": (io.BytesIO(encoded(64, 48)), "scripted.jpg")}
    assert api.post("/api/images", data=form, content_type="multipart/form-data").status_code == 202
    assert "scripted.jpg" in alice.get("/").get_data(as_text=True)


@pytest.fixture
def no_page_uploads(app):
    """PAGE_UPLOADS=off."""
    app.config["PAGE_UPLOADS"] = False
    return app


def test_without_page_uploads_a_new_browser_is_offered_nothing(no_page_uploads, alice):
    html = alice.get("/").get_data(as_text=True)
    assert 'id="upload-form"' not in html and 'type="file"' not in html
    assert not TOKEN_META.search(html)
    assert owner_cookie(alice) is None


def test_without_page_uploads_the_upload_form_route_is_404(app, alice):
    token = csrf_token(alice)
    app.config["PAGE_UPLOADS"] = False
    form = {"file": (io.BytesIO(encoded(64, 48)), "a.jpg"), "csrf_token": token}
    assert alice.post("/upload", data=form, content_type="multipart/form-data").status_code == 404
    assert "a.jpg" not in alice.get("/").get_data(as_text=True)


def test_without_page_uploads_a_browser_keeps_its_images_but_its_token_cannot_upload(app, alice):
    image_id = upload_form(alice)
    app.config["PAGE_UPLOADS"] = False
    assert image_id in alice.get("/").get_data(as_text=True)
    api = authorize(app.test_client(), page_token(alice))
    assert api.get(f"/api/images/{image_id}").status_code == 200
    form = {"file": (io.BytesIO(encoded(64, 48)), "more.jpg")}
    response = api.post("/api/images", data=form, content_type="multipart/form-data")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_without_page_uploads_retry_is_forbidden_and_not_offered(app, alice):
    image_id = upload_form(alice)
    set_status(app, image_id, ImageStatus.FAILED)
    token = csrf_token(alice)
    app.config["PAGE_UPLOADS"] = False
    assert ">Retry<" not in alice.get(f"/images/{image_id}").get_data(as_text=True)
    assert alice.post(f"/images/{image_id}/retry", data={"csrf_token": token}).status_code == 403
