"""AVIF and WebP per variant, a cover crop and placeholders, out of real workers; the negotiated URL picks by Accept."""

import base64
import io

import pytest
from PIL import Image

from app.storage import LocalStorage
from tests.support.images import corpus_photo
from tests.support.polling import wait_for_status

pytestmark = pytest.mark.integration

VARIANTS = "thumb:160,small:480,avatar:96x96:cover"


@pytest.fixture
def done_image(make_stack):
    """A corpus photo processed by a real worker with avif,webp, a cover crop and placeholders."""
    stack = make_stack(OUTPUT_FORMATS="avif,webp", IMAGE_VARIANTS=VARIANTS)
    stack.start_worker()
    image_id = stack.upload(corpus_photo("storm_1920x1280.jpg")).get_json()["id"]
    image = wait_for_status(stack.client, image_id, {"done", "failed"})
    assert image["status"] == "done", image["error"]
    return stack, image


def decoded(data: bytes) -> Image.Image:
    """Open and load encoded bytes."""
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


def test_avif_and_webp_variants_a_cover_crop_and_placeholders_come_out_of_real_workers(done_image):
    stack, image = done_image
    for name, variant in image["variants"].items():
        assert [source["format"] for source in variant["sources"]] == ["avif", "webp"], name
        assert variant["url"] == variant["sources"][0]["url"] and variant["format"] == "avif"
        for source in variant["sources"]:
            response = stack.client.get(source["url"])
            assert response.status_code == 200 and response.mimetype == source["content_type"]
            assert len(response.data) == source["bytes"]
            assert decoded(response.data).size == (variant["width"], variant["height"])
    thumb, small = image["variants"]["thumb"], image["variants"]["small"]
    assert image["srcset"]["avif"] == f"{thumb['sources'][0]['url']} 160w, {small['sources'][0]['url']} 480w"
    assert image["srcset"]["webp"] == f"{thumb['sources'][1]['url']} 160w, {small['sources'][1]['url']} 480w"
    keys = set(LocalStorage(stack.env["STORAGE_ROOT"]).keys(f"variants/{image['id']}/"))
    urls = {source["url"] for variant in image["variants"].values() for source in variant["sources"]}
    assert {f"/media/{key}" for key in keys} == urls
    result = stack.app.test_cli_runner().invoke(args=["images", "audit"])
    assert result.exit_code == 0, result.output
    avatar = image["variants"]["avatar"]
    assert (avatar["width"], avatar["height"], avatar["mode"]) == (96, 96, "cover")
    assert image["variants"]["thumb"]["mode"] == "fit"
    placeholder = image["placeholder"]
    assert len(placeholder["blurhash"]) == 28 and placeholder["color"].startswith("#")
    tiny = base64.b64decode(placeholder["data_uri"].removeprefix("data:image/webp;base64,"))
    assert len(tiny) <= 1024 and max(decoded(tiny).size) <= 32


ACCEPTED = [
    ("image/avif,image/webp,image/*,*/*;q=0.8", "image/avif"),
    ("image/avif", "image/avif"),
    ("image/webp", "image/webp"),
    ("image/avif;q=0,image/webp,*/*;q=0.5", "image/webp"),
    ("*/*", "image/webp"),
    (None, "image/webp"),
]


def test_extensionless_url_answers_in_the_format_accept_takes(done_image):
    stack, image = done_image
    sources = {source["content_type"]: source["url"] for source in image["variants"]["thumb"]["sources"]}
    cache_control = stack.client.get(sources["image/avif"]).headers["Cache-Control"]
    for accept, content_type in ACCEPTED:
        headers = {"Accept": accept} if accept else {}
        response = stack.client.get(f"/media/variants/{image['id']}/thumb", headers=headers)
        assert (response.status_code, response.mimetype) == (200, content_type), accept
        assert "Accept" in response.vary and response.headers["Cache-Control"] == cache_control
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.data == stack.client.get(sources[content_type]).data


def test_extensionless_url_of_an_unknown_variant_is_404(done_image):
    stack, image = done_image
    assert stack.client.get(f"/media/variants/{image['id']}/huge").status_code == 404
    assert stack.client.get("/media/variants/0123456789abcdef/thumb").status_code == 404
