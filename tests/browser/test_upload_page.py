"""The upload page in headless Chromium: what a person sees while uploading, retrying, browsing and deleting."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import upload_as
from tests.support.flaky_storage import FAILURES_KEY
from tests.support.images import corpus_photo, encoded

pytestmark = pytest.mark.browser

THREE_PHOTOS = ["storm_1920x1280.jpg", "wood_2560x1920.jpg", "autumn_2560x1600.jpg"]
PROCESSING_TIMEOUT_MS = 120_000


def row(page, filename: str):
    """The upload row of one file."""
    return page.locator(".upload-row", has=page.locator(".upload-name", has_text=filename))


def expect_done_with_thumbnail(page, filename: str) -> None:
    """The row of filename reaches done and shows the server's thumbnail, loaded."""
    upload = row(page, filename)
    expect(upload).to_have_attribute("data-state", "done", timeout=PROCESSING_TIMEOUT_MS)
    thumbnail = upload.locator("img.thumb")
    expect(thumbnail).to_have_attribute("src", re.compile(r"^/media/variants/"))
    expect(thumbnail).to_have_js_property("complete", True)
    assert thumbnail.evaluate("img => img.naturalWidth") > 0
    expect(upload.get_by_role("button", name="Retry")).to_be_hidden()


def test_three_photos_show_progress_then_thumbnails_without_reload(site, open_page, artifacts):
    page = open_page(site)
    followed, sent_as = [], []
    page.on("request", lambda request: is_follow(request.url) and followed.append(request.url))
    # Uploads only (the stream token is minted with a bodiless POST).
    is_upload = re.compile(r"/api/images$").search
    page.on("request", lambda r: r.method == "POST" and is_upload(r.url) and sent_as.append(r.headers["content-type"]))
    page.evaluate("window.pixlineTestMarker = 'same page'")
    with page.expect_file_chooser() as chooser:
        page.get_by_text("choose images").click()
    chooser.value.set_files([corpus_photo(name) for name in THREE_PHOTOS])

    expect(page.locator(".upload-row")).to_have_count(3)
    for name in THREE_PHOTOS:
        expect(row(page, name).locator("progress")).to_have_js_property("value", 100, timeout=PROCESSING_TIMEOUT_MS)
    for name in THREE_PHOTOS:
        expect_done_with_thumbnail(page, name)
        # The badge says done; the words say what was made, not "done" again.
        expect(row(page, name).locator(".upload-status")).to_have_text(re.compile(r"^done \d+ × \d+ px · 4 sizes$"))
    expect(page.locator("#upload-summary")).to_have_text("3 of 3 done")
    expect(page.locator("#gallery-list .tile img")).to_have_count(3)
    assert page.evaluate("window.pixlineTestMarker") == "same page", "the page reloaded"
    streams = [url for url in followed if not url.endswith("/api/events/token")]  # each minted a stream token first
    assert streams and all("/api/events?ids=" in url for url in streams), "rows are followed by server-sent events"
    assert sent_as == ["image/jpeg"] * 3, "each file is sent as the raw body, not in a multipart form"

    path = artifacts / "upload-page-three-photos.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def is_follow(url: str) -> bool:
    """Whether a request follows an image's status: the event stream or a long-poll."""
    return "/api/events" in url or "wait=" in url


def test_with_the_event_stream_blocked_rows_fall_back_to_long_polls(site, open_page):
    page = open_page(site)
    page.route("**/api/events*", lambda route: route.abort())
    followed = []
    page.on("request", lambda request: is_follow(request.url) and followed.append(request.url))
    page.set_input_files("#file-input", str(corpus_photo("storm_1920x1280.jpg")))

    expect_done_with_thumbnail(page, "storm_1920x1280.jpg")
    expect(page.locator("#upload-summary")).to_have_text("1 of 1 done")
    assert any("/api/events" in url for url in followed), "the page tried the event stream first"
    assert any("wait=" in url for url in followed), "then long-polled"


def test_text_file_named_jpg_shows_the_servers_refusal_and_stores_nothing(site, open_page):
    page = open_page(site)
    # Claimed as image/jpeg, so the browser-side check lets it through and the server decides by the bytes.
    fake = {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"shopping list: milk, eggs\n" * 40}
    with page.expect_response("**/api/images") as answer:
        page.set_input_files("#file-input", fake)
    assert answer.value.status == 415
    server_message = answer.value.json()["error"]["message"]

    upload = row(page, "notes.jpg")
    expect(upload).to_have_attribute("data-state", "failed")
    expect(upload.locator(".upload-message")).to_have_text("This is not a kind of image this server can read.")
    expect(upload.locator(".failure-detail")).to_contain_text(server_message)
    expect(upload.locator(".retry")).to_be_hidden()
    assert site.image_count() == 0
    assert site.stored_keys() == []


def test_browser_refuses_a_non_image_before_uploading(site, open_page):
    page = open_page(site)
    posts = []
    page.on("request", lambda request: request.method == "POST" and posts.append(request.url))
    page.set_input_files("#file-input", {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"})

    upload = row(page, "notes.txt")
    expect(upload).to_have_attribute("data-state", "failed")
    expect(upload.locator(".upload-message")).to_have_text("This is not a JPEG, PNG, WebP, GIF, HEIC or AVIF image.")
    assert posts == []


def test_truncated_jpeg_says_so_in_a_sentence_and_offers_no_retry(site, open_page):
    page = open_page(site)
    whole = corpus_photo("storm_1920x1280.jpg").read_bytes()
    page.set_input_files("#file-input", {"name": "cut.jpg", "mimeType": "image/jpeg", "buffer": whole[:50_000]})

    upload = row(page, "cut.jpg")
    expect(upload).to_have_attribute("data-state", "failed", timeout=PROCESSING_TIMEOUT_MS)
    expect(upload.locator(".upload-message")).to_have_text(re.compile(r"^The file is damaged or cut short"))
    # Pillow's words stay available, folded away under the sentence.
    detail = upload.locator(".failure-detail")
    expect(detail.locator("p")).to_be_hidden()
    detail.locator("summary").click()
    expect(detail).to_contain_text("invalid_image")
    expect(detail).to_contain_text("truncated")
    # A damaged file fails the same way every time: nothing to retry, here or on its page.
    expect(upload.get_by_role("button", name="Retry")).to_be_hidden()
    upload.get_by_role("link", name="View cut.jpg").click()
    expect(page.locator(".alert.failure")).to_contain_text("The file is damaged or cut short")
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)


def test_failed_image_retried_from_the_page_becomes_done(make_site, open_page):
    site = make_site(STORAGE_BACKEND="tests.support.flaky_storage:FlakyStorage", RETRY_MAX="0")
    site.stack.redis.set(FAILURES_KEY, 1)
    page = open_page(site)
    page.set_input_files("#file-input", str(corpus_photo("storm_1920x1280.jpg")))

    upload = row(page, "storm_1920x1280.jpg")
    expect(upload).to_have_attribute("data-state", "failed", timeout=PROCESSING_TIMEOUT_MS)
    expect(upload.locator(".upload-message")).to_contain_text("could not reach its storage")
    expect(upload.locator(".failure-detail")).to_contain_text("injected storage failure")
    upload.get_by_role("button", name="Retry").click()
    expect_done_with_thumbnail(page, "storm_1920x1280.jpg")
    expect(upload.get_by_role("button", name="Retry")).to_be_hidden()


def test_delete_from_the_detail_page_removes_the_image(site, open_page, artifacts):
    page = open_page(site)
    image_id = upload_as(site, page, encoded(640, 480), "doomed.jpg")["id"]
    page.goto(f"/images/{image_id}")
    # The page refreshes itself until processing ends.
    expect(page.locator("#status")).to_have_text("done", timeout=PROCESSING_TIMEOUT_MS)
    expect(page.locator(".variants tbody tr")).to_have_count(8)  # four sizes, each in AVIF and WebP
    page.screenshot(path=str(artifacts / "image-detail.png"), full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()

    expect(page).to_have_url(f"{site.url}/")
    expect(page.locator(f'[data-image-id="{image_id}"]')).to_have_count(0)
    assert site.image_count() == 0
    assert site.stored_keys() == []


def test_upload_without_javascript_lands_on_the_detail_page_that_refreshes_until_done(site, open_page):
    page = open_page(site, javascript=False)
    page.set_input_files("#file-input", str(corpus_photo("storm_1920x1280.jpg")))
    page.get_by_role("button", name="Upload").click()

    expect(page).to_have_url(re.compile(r"/images/[0-9a-f]{32}$"))
    expect(page.locator("#status")).to_have_text("done", timeout=PROCESSING_TIMEOUT_MS)
    expect(page.locator(".variants tbody tr")).to_have_count(8)  # four sizes, each in AVIF and WebP
    expect(page.locator("img.preview")).to_be_visible()


@pytest.mark.parametrize("key", ["Enter", " "])
def test_keyboard_only_upload(site, open_page, key):
    page = open_page(site)
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "dropzone":
            break
    expect(page.locator("#dropzone")).to_be_focused()
    with page.expect_file_chooser() as chooser:
        page.keyboard.press(key)
    chooser.value.set_files(str(corpus_photo("storm_1920x1280.jpg")))
    expect_done_with_thumbnail(page, "storm_1920x1280.jpg")
    expect(page.locator("#announcer")).to_have_text("storm_1920x1280.jpg: done")


def test_load_more_appends_older_images_newest_first(make_site, open_page):
    site = make_site(GALLERY_PAGE_SIZE="2")
    names = ["first.jpg", "second.jpg", "third.jpg"]
    page = open_page(site)
    for name in names:
        upload_as(site, page, encoded(64, 48), name)
    page.reload()
    tiles = page.locator("#gallery-list .tile-name")
    expect(tiles).to_have_text(["third.jpg", "second.jpg"])
    page.get_by_role("link", name="Load more").click()
    expect(tiles).to_have_text(["third.jpg", "second.jpg", "first.jpg"])
    expect(page.get_by_role("link", name="Load more")).to_have_count(0)


def test_page_fits_a_phone_screen(site, open_page, artifacts):
    page = open_page(site, width=390, height=844)
    page.set_input_files("#file-input", str(corpus_photo("storm_1920x1280.jpg")))
    expect_done_with_thumbnail(page, "storm_1920x1280.jpg")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    page.screenshot(path=str(artifacts / "upload-page-phone.png"), full_page=True)


def test_live_gallery_lists_what_a_reload_lists_in_the_same_order(make_site, open_page):
    site = make_site()
    page = open_page(site)
    upload_as(site, page, encoded(64, 48), "before.jpg")
    page.reload()
    whole = corpus_photo("storm_1920x1280.jpg").read_bytes()
    files = [{"name": "first.jpg", "mimeType": "image/jpeg", "buffer": encoded(320, 200)},
             {"name": "cut.jpg", "mimeType": "image/jpeg", "buffer": whole[:50_000]},
             {"name": "last.jpg", "mimeType": "image/jpeg", "buffer": encoded(200, 320)}]  # fmt: skip
    page.set_input_files("#file-input", files)
    for upload in files:
        expect(row(page, upload["name"])).to_have_attribute("data-state", re.compile("done|failed"), timeout=120_000)

    live = gallery_tiles(page)
    page.reload()
    assert live == gallery_tiles(page)
    assert [name for name, _ in live][-1] == "before.jpg" and ["cut.jpg", "failed"] in live


def gallery_tiles(page) -> list[list[str]]:
    """The gallery's tiles, in order: name and status."""
    return page.locator("#gallery-list .tile").evaluate_all(
        "tiles => tiles.map(tile => [tile.querySelector('.tile-name').textContent, tile.dataset.status])"
    )
