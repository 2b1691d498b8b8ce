"""Chromium and the outputs: the negotiated variant URL answers AVIF; tiles show the placeholder while loading."""

import pytest
from playwright.sync_api import expect

from app.pipeline.access import ADMIN
from tests.browser.conftest import upload_as
from tests.conftest import authorize, make_key
from tests.support.images import corpus_photo
from tests.support.polling import wait_for_status

pytestmark = pytest.mark.browser


@pytest.fixture
def done_site(make_site):
    """A served stack (avif,webp) with one processed photo."""
    site = make_site(OUTPUT_FORMATS="avif,webp")
    image_id = site.stack.upload(corpus_photo("storm_1920x1280.jpg")).get_json()["id"]
    image = wait_for_status(site.stack.client, image_id, {"done", "failed"}, timeout=120)
    assert image["status"] == "done", image["error"]
    return site, image


def test_chromium_gets_avif_from_the_extensionless_variant_url(done_site, open_page):
    site, image = done_site
    page = open_page(site)
    url = f"/media/variants/{image['id']}/thumb"
    with page.expect_response(lambda response: response.url.endswith(url)) as answer:
        page.evaluate(
            "url => { const img = new Image(); img.id = 'negotiated'; img.src = url; document.body.append(img); }", url
        )
    response = answer.value
    assert response.status == 200 and response.headers["content-type"] == "image/avif"
    assert "accept" in response.headers["vary"].lower()
    assert "image/avif" in response.request.all_headers()["accept"]
    expect(page.locator("#negotiated")).to_have_js_property("complete", True)
    assert page.locator("#negotiated").evaluate("img => img.naturalWidth") == image["variants"]["thumb"]["width"]


def test_gallery_tile_shows_the_placeholder_while_its_thumbnail_loads(make_site, browser):
    site = make_site(OUTPUT_FORMATS="avif,webp")
    context = browser.new_context(base_url=site.url)
    try:
        page = context.new_page()
        page.goto("/")
        # The gallery shows this browser's own images: upload as it, with its page token.
        created = upload_as(site, page, corpus_photo("storm_1920x1280.jpg").read_bytes(), "storm.jpg")
        operator = authorize(site.stack.app.test_client(), make_key(site.stack.app, "operators", {ADMIN}))
        image = wait_for_status(operator, created["id"], {"done", "failed"}, timeout=120)
        assert image["status"] == "done", image["error"]
        # Variants never arrive: the placeholder is all the tile can show.
        page.route("**/media/**", lambda route: None)
        page.goto("/")
        tile = page.locator(f'[data-image-id="{image["id"]}"] img')
        expect(tile).to_have_attribute("data-placeholder", "shown")
        red, green, blue = (int(image["placeholder"]["color"][i : i + 2], 16) for i in (1, 3, 5))
        assert tile.evaluate("img => img.style.backgroundColor") == f"rgb({red}, {green}, {blue})"
        assert tile.evaluate("img => img.style.backgroundImage").startswith('url("blob:')
        sources = page.locator(f'[data-image-id="{image["id"]}"] picture source')
        assert sources.evaluate_all("nodes => nodes.map(node => node.type)") == ["image/avif"]
    finally:
        context.close()
