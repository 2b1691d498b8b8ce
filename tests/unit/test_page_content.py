"""What the pages say and show, on the rendered HTML: every stored file, failures in words, Retry only where it helps,
and sharp gallery tiles through srcset/sizes."""

import json
import re
from html import unescape

import pytest
from rq import Queue

from app.extensions import db
from app.models import Image, ImageStatus
from app.pipeline.jobs import process_image
from app.web import failures
from app.web.pages import breakable, cover_factor, format_name, tile_sizes
from tests.support.browsers import as_browser
from tests.support.images import encoded
from tests.unit.test_api import post_file
from tests.unit.test_pages import csrf_token

PILLOW_TEXT = "The image cannot be decoded: image file is truncated (0 bytes not processed)"


@pytest.fixture
def client(app):
    """One browser (its cookie on the pages, its page token on the API)."""
    return as_browser(app.test_client())


@pytest.fixture
def fast_worker(monkeypatch):
    """Every enqueued image job runs to the end before the enqueue returns."""
    enqueue_call = Queue.enqueue_call

    def enqueue_and_run(self, func, args=None, *rest, **options):
        job = enqueue_call(self, func, args, *rest, **options)
        if func is process_image:
            process_image(*args)
        return job

    monkeypatch.setattr(Queue, "enqueue_call", enqueue_and_run)


@pytest.fixture
def done_image(client, fast_worker) -> dict:
    """A processed 1200×800 photo (four variants, each in AVIF and WebP), as the API shows it."""
    image_id = post_file(client, encoded(1200, 800), "photo.jpg").get_json()["id"]
    image = client.get(f"/api/images/{image_id}").get_json()
    assert image["status"] == "done", image["error"]
    return image


def fail(app, image_id: str, code: str, message: str) -> None:
    """Record a failure as the failure callback does."""
    with app.app_context():
        image = db.session.get(Image, image_id)
        image.status, image.error_code, image.error_message = ImageStatus.FAILED.value, code, message
        db.session.commit()


def failed_page(app, client, code: str, message: str = PILLOW_TEXT) -> str:
    """The detail page of an image that failed with code."""
    image_id = post_file(client, encoded()).get_json()["id"]
    fail(app, image_id, code, message)
    return client.get(f"/images/{image_id}").get_data(as_text=True)


def test_sizes_table_lists_every_stored_file_with_its_format_dimensions_and_bytes(client, done_image):
    html = client.get(f"/images/{done_image['id']}").get_data(as_text=True)
    groups = re.findall(r"<tbody>(.*?)</tbody>", html.split('class="variants"')[1], re.S)
    assert len(groups) == len(done_image["variants"]) == 4
    for name, variant in done_image["variants"].items():
        group = next(group for group in groups if f'">{name}<span class="dimensions-inline"' in group)
        assert f'rowspan="2" class="dimensions">{variant["width"]} × {variant["height"]}<' in group
        rows = re.findall(r"<tr>(.*?)</tr>", group, re.S)
        assert [source["format"] for source in variant["sources"]] == ["avif", "webp"]
        for row, source in zip(rows, variant["sources"], strict=True):
            assert f'href="{source["url"]}">{format_name(source["format"])}<' in row
            assert f"({source['bytes']:,} bytes)" in row


def test_failure_is_a_sentence_with_the_technical_detail_kept_aside(app, client):
    html = failed_page(app, client, "invalid_image")
    alert = html.split('class="alert failure"')[1].split("</div>")[0]
    sentence = alert.split("<details")[0]
    assert "The file is damaged or cut short" in sentence and "truncated" not in sentence
    assert "<summary>Technical details</summary>" in alert
    assert "<code>invalid_image</code> " + PILLOW_TEXT in unescape(alert)


@pytest.mark.parametrize(
    ("code", "retryable"),
    [("invalid_image", False), ("unsupported_type", False), ("too_many_pixels", False), ("too_many_frames", False),
     ("too_large", False), ("quota_exceeded", False), ("unavailable", True), ("processing_error", True),
     ("some_new_code", True)],
)  # fmt: skip
def test_retry_is_offered_only_where_processing_again_could_succeed(app, client, code, retryable):
    html = failed_page(app, client, code, "details")
    assert ("/retry" in html) is retryable
    assert failures.is_retryable(code) is retryable


def test_every_code_a_job_can_fail_with_has_its_own_sentence(app):
    codes = ["invalid_image", "unsupported_type", "too_many_pixels", "too_many_frames", "too_large", "unavailable",
             "quota_exceeded", "processing_error"]  # fmt: skip
    with app.test_request_context():
        sentences = [failures.sentence_for(code) for code in codes]
    assert failures.FALLBACK not in sentences and len(set(sentences)) == len(codes)
    assert "at most 25 MiB" in sentences[codes.index("too_large")]


def test_retry_form_refuses_a_permanent_failure_and_changes_nothing(app, client):
    image_id = post_file(client, encoded()).get_json()["id"]
    fail(app, image_id, "invalid_image", PILLOW_TEXT)
    response = client.post(f"/images/{image_id}/retry", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 409
    assert "would fail again" in response.get_data(as_text=True)
    assert client.get(f"/api/images/{image_id}").get_json()["status"] == "failed"


def test_upload_page_gives_its_script_the_same_sentences_and_retry_rules(app, client):
    html = client.get("/").get_data(as_text=True)
    texts = json.loads(unescape(re.search(r"data-failures='([^']+)'", html).group(1)))
    with app.test_request_context():
        assert texts == failures.page_texts()
    assert texts["invalid_image"]["retryable"] is False and texts["unavailable"]["retryable"] is True


def test_gallery_tile_offers_every_fitted_width_in_each_format_with_sizes(client, done_image):
    html = client.get("/").get_data(as_text=True)
    tile = html.split(f'data-image-id="{done_image["id"]}"')[1].split("</li>")[0]
    sizes = tile_sizes(cover_factor(done_image, 4 / 3))
    source = re.search(r'<source type="image/avif" srcset="([^"]+)" sizes="([^"]+)">', tile)
    assert unescape(source.group(1)) == done_image["srcset"]["avif"] and source.group(2) == sizes
    img = re.search(r'<img src="([^"]+)" srcset="([^"]+)" sizes="([^"]+)"', tile)
    assert unescape(img.group(2)) == done_image["srcset"]["webp"] and img.group(3) == sizes
    assert [int(width) for width in re.findall(r" (\d+)w", img.group(2))] == [160, 480, 1024, 1200]


def test_tile_sizes_grow_with_a_picture_wider_than_the_tile():
    assert cover_factor({"width": 1200, "height": 900}, 4 / 3) == 1
    assert cover_factor({"width": 800, "height": 1200}, 4 / 3) == 1
    assert cover_factor({"width": 3000, "height": 1000}, 4 / 3) == 2.25
    assert tile_sizes(2.25) == (
        "(max-width: 640px) calc((50vw - 34px) * 2.25), (max-width: 1039px) calc((220px) * 2.25), calc((176px) * 2.25)"
    )


def test_long_file_names_may_break_after_their_separators_and_stay_escaped():
    assert breakable("IMG_2024-08.jpg") == "IMG_<wbr>2024-<wbr>08.<wbr>jpg"
    assert breakable("<b>_x") == "&lt;b&gt;_<wbr>x"
    assert [format_name(name) for name in ("avif", "webp", "jpeg")] == ["AVIF", "WebP", "JPEG"]
