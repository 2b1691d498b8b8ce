"""The pages as a person sees them: sharp gallery tiles on a high-density screen, nothing wider than a phone.

Screenshots of the gallery and a detail page at 360 px and 1280 px (device scale factor 2) land in test-artifacts/.
"""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import upload_as
from tests.support.images import corpus_photo, encoded
from tests.support.polling import wait_until

pytestmark = pytest.mark.browser

LONG_NAME = "IMG_20240817_183412345_HDR_panorama_from_the_ferry_to_the_island-final-final-2.jpg"
PICTURES = {
    "storm.jpg": lambda: corpus_photo("storm_1920x1280.jpg").read_bytes(),
    "portrait.jpg": lambda: corpus_photo("safelanding_1622x2880.jpg").read_bytes(),
    LONG_NAME: lambda: encoded(3000, 1000, color="teal"),
}


@pytest.fixture
def gallery(make_site, browser):
    """A served stack and a browser owner with three processed pictures (3:2, portrait, a 3:1 panorama)."""
    site = make_site()
    context = browser.new_context(base_url=site.url)
    page = context.new_page()
    page.goto("/")
    ids = {name: upload_as(site, page, data(), name)["id"] for name, data in PICTURES.items()}
    for image_id in ids.values():
        wait_until(lambda image_id=image_id: is_done(site, image_id), 180, interval=0.5, what="processing")
    yield site, context.cookies(), ids
    context.close()


def is_done(site, image_id: str) -> bool:
    """Whether the image finished processing (fails at once if it failed)."""
    from app.extensions import db
    from app.models import Image

    with site.stack.app.app_context():
        status = db.session.get(Image, image_id).status
        db.session.remove()
    assert status != "failed", site.stack.worker_logs()[-3000:]
    return status == "done"


def open_as_owner(open_page, gallery, path: str, width: int, scale: float = 2):
    """Open path in a browser holding the gallery owner's cookie."""
    site, cookies, _ = gallery
    page = open_page(site, "/healthz", width=width, height=800, scale=scale)
    page.context.add_cookies(cookies)
    page.goto(path)
    return page


def chosen_widths(page) -> list[dict]:
    """Each tile's picture: the width of the variant the browser chose, and the width it needs at this density."""
    expect(page.locator("#gallery-list .tile img")).to_have_count(len(PICTURES))
    wait_until(lambda: page.evaluate("[...document.querySelectorAll('.tile img')].every(i => i.complete)"), 30)
    return page.evaluate(
        """() => [...document.querySelectorAll('#gallery-list .tile img')].map(img => {
            const chosen = img.currentSrc;
            const candidates = (img.parentElement.querySelector('source') || img).srcset.split(', ')
                .concat(img.srcset.split(', ')).map(entry => entry.split(' '));
            const found = candidates.find(([url, descriptor]) => descriptor && chosen.endsWith(url));
            const width = found ? Number(found[1].replace('w', '')) : img.naturalWidth;
            // object-fit: cover draws a picture wider than the tile at the tile's height
            const drawn = Math.max(img.clientWidth, img.clientHeight * img.naturalWidth / img.naturalHeight);
            return {name: img.closest('a').innerText, chosen, width, needed: Math.ceil(drawn * devicePixelRatio)};
        })"""
    )


@pytest.mark.parametrize("width", [1280, 360])
def test_gallery_tiles_are_sharp_on_a_high_density_screen(open_page, gallery, width, artifacts):
    page = open_as_owner(open_page, gallery, "/", width)
    tiles = chosen_widths(page)
    assert all(tile["chosen"].endswith(".avif") for tile in tiles), tiles
    soft = [tile for tile in tiles if tile["width"] < tile["needed"]]
    assert not soft, f"tiles drawn from a variant narrower than their pixels: {soft}"
    page.screenshot(path=str(artifacts / f"gallery-{width}px-dpr2.png"), full_page=True)
    page.goto(f"/images/{gallery[2][LONG_NAME]}")
    expect(page.locator("img.preview")).to_have_js_property("complete", True)
    page.screenshot(path=str(artifacts / f"detail-{width}px-dpr2.png"), full_page=True)


@pytest.mark.parametrize("width", [360, 375])
def test_upload_page_and_detail_page_fit_a_narrow_phone(open_page, gallery, width, artifacts):
    site, _, ids = gallery
    page = open_as_owner(open_page, gallery, "/", width)
    page.set_input_files("#file-input", {"name": LONG_NAME, "mimeType": "image/jpeg", "buffer": encoded(64, 48)})
    expect(page.locator(".upload-row")).to_have_attribute("data-state", "done", timeout=120_000)
    assert_fits(page, "upload page")
    page.goto(f"/images/{ids[LONG_NAME]}")
    expect(page.locator(".variants tbody tr")).to_have_count(8)
    assert_fits(page, "detail page")
    assert page.evaluate("(wrap => wrap.scrollWidth <= wrap.clientWidth)(document.querySelector('.table-wrap'))"), (
        "the sizes table scrolls inside the page"
    )
    page.screenshot(path=str(artifacts / f"detail-{width}px-long-name.png"), full_page=True)


def assert_fits(page, what: str) -> None:
    """Nothing on the page is wider than the screen (no sideways scrolling)."""
    overflow = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(node => node.getBoundingClientRect().right > innerWidth + 0.5)
            .map(node => node.tagName + '.' + node.className + ' ' + Math.round(node.getBoundingClientRect().right))
            .slice(0, 8)"""
    )
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), f"{what} scrolls sideways: {overflow}"
