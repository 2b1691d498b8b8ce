"""Two browsers on one upload page: each has its own anonymous owner and sees, retries and deletes only its images."""

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import page_token, upload_as
from tests.support.images import corpus_photo, encoded
from tests.support.polling import wait_until

pytestmark = pytest.mark.browser

PROCESSING_TIMEOUT_MS = 120_000


def upload_in_page(page, name: str) -> str:
    """Upload a corpus photo through the page's drop zone, wait until done; its image id."""
    page.set_input_files("#file-input", str(corpus_photo(name)))
    upload = page.locator(".upload-row", has=page.locator(".upload-name", has_text=name))
    expect(upload).to_have_attribute("data-state", "done", timeout=PROCESSING_TIMEOUT_MS)
    return upload.get_attribute("data-image-id")


def gallery_names(page) -> list[str]:
    """The file names of the gallery's tiles, after a reload."""
    page.reload()
    return page.locator("#gallery-list .tile-name").all_inner_texts()


def test_each_browser_sees_only_its_own_uploads(site, open_page):
    alice, bob = open_page(site), open_page(site)
    alice_id = upload_in_page(alice, "storm_1920x1280.jpg")
    bob_id = upload_in_page(bob, "wood_2560x1920.jpg")

    assert gallery_names(alice) == ["storm_1920x1280.jpg"]
    assert gallery_names(bob) == ["wood_2560x1920.jpg"]
    expect(alice.locator(f'[data-image-id="{bob_id}"]')).to_have_count(0)

    # Another browser's image page is a 404, exactly like an id that never existed.
    assert bob.goto(f"/images/{alice_id}").status == 404
    assert bob.goto(f"/images/{'0' * 32}").status == 404
    assert alice.goto(f"/images/{alice_id}").status == 200


def test_a_browser_cannot_reach_another_browsers_image_through_the_api(site, open_page):
    alice, bob = open_page(site), open_page(site)
    alice_id = upload_as(site, alice, encoded(320, 240), "alice.jpg")["id"]
    headers = {"Authorization": f"Bearer {page_token(bob)}"}
    assert requests.get(f"{site.url}/api/images/{alice_id}", headers=headers, timeout=10).status_code == 404
    assert requests.delete(f"{site.url}/api/images/{alice_id}", headers=headers, timeout=10).status_code == 404
    listing = requests.get(f"{site.url}/api/images", headers=headers, timeout=10).json()
    assert listing["items"] == []
    assert site.image_count() == 1


def test_a_browser_cannot_delete_another_browsers_image_with_the_form(site, open_page):
    alice, bob = open_page(site), open_page(site)
    alice_id = upload_as(site, alice, encoded(320, 240), "alice.jpg")["id"]
    bob.goto("/")
    token = bob.locator('input[name="csrf_token"]').first.get_attribute("value")
    answer = bob.request.post(f"/images/{alice_id}/delete", form={"csrf_token": token}, max_redirects=0)
    assert answer.status == 404
    assert site.image_count() == 1
    assert alice.goto(f"/images/{alice_id}").status == 200


def test_the_owner_cookie_is_http_only_and_same_site_lax(site, open_page):
    page = open_page(site)
    [cookie] = [cookie for cookie in page.context.cookies() if cookie["name"] == "pixline_owner"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert "pixline_owner" not in page.evaluate("document.cookie")


def test_the_page_scripts_call_the_api_with_the_page_token_not_the_cookie(site, open_page):
    page = open_page(site)
    token = page_token(page)
    assert re.fullmatch(r"pxp_[A-Za-z0-9_.-]+", token)
    with page.expect_request("**/api/images") as sent:
        page.set_input_files("#file-input", str(corpus_photo("storm_1920x1280.jpg")))
    assert sent.value.headers["authorization"] == f"Bearer {token}"
    # The API itself takes no cookie: the browser's cookie alone gets a 401.
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    assert requests.get(f"{site.url}/api/images", cookies=cookies, timeout=10).status_code == 401


def test_each_page_load_renews_the_page_token_of_the_same_owner(site, open_page):
    page = open_page(site)
    first = page_token(page)
    wait_until(lambda: page.reload() and page_token(page) != first, 10, what="a token made in a later second")
    headers = {"Authorization": f"Bearer {page_token(page)}"}
    image_id = upload_as(site, page, encoded(64, 48), "mine.jpg")["id"]
    older = {"Authorization": f"Bearer {first}"}
    assert requests.get(f"{site.url}/api/images/{image_id}", headers=headers, timeout=10).status_code == 200
    assert requests.get(f"{site.url}/api/images/{image_id}", headers=older, timeout=10).status_code == 200


def test_without_page_uploads_the_page_offers_no_upload(make_site, open_page):
    site = make_site(PAGE_UPLOADS="off")
    page = open_page(site)
    expect(page.locator("#upload-form")).to_have_count(0)
    expect(page.locator("#file-input")).to_have_count(0)
    expect(page.locator('meta[name="pixline-page-token"]')).to_have_count(0)
    assert [cookie for cookie in page.context.cookies() if cookie["name"] == "pixline_owner"] == []
    answer = page.request.post(
        "/upload", multipart={"file": {"name": "a.jpg", "mimeType": "image/jpeg", "buffer": encoded(8, 8)}}
    )
    assert answer.status in (400, 404)
    assert site.image_count() == 0
