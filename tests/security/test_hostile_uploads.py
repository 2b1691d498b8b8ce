"""Hostile and edge-case files through the real API: each row states what the client sees and what is left behind.

Refusals are checked on the unit app (fakeredis); the rows that need processing go through one live stack with
real worker processes, uploaded together and checked row by row. Pixel-level checks of every mode live in
tests/unit/test_processing.py; here they are repeated only as far as proving the whole pipeline keeps them.
"""

import io
import time

import pytest
from PIL import Image

from app.pipeline.uploads import sanitize_filename
from app.storage import LocalStorage
from tests import framegen, imagegen
from tests.conftest import Stack
from tests.security.conftest import assert_nothing_stored, image_count, post_file, queued_job_ids, stored_keys
from tests.support.browsers import as_browser
from tests.support.polling import wait_for_status


def many_frames_gif(frames: int = 1500) -> bytes:
    """A small GIF with more frames than MAX_FRAMES (1000): every frame differs, so none are merged."""
    colours = [((i * 37) % 256, (i * 91) % 256, (i * 13) % 256) for i in range(frames)]
    return imagegen.animated_gif(colours, (8, 8))


def many_frames_webp(frames: int = 1500) -> bytes:
    """An animated WebP with more frames than MAX_FRAMES."""
    colours = [((i * 37) % 256, (i * 91) % 256, (i * 13) % 256) for i in range(frames)]
    return imagegen.animated_webp(colours, (8, 8))


def gif_with_a_frame_cut_short() -> bytes:
    """An animated GIF cut inside a later frame's header, where Pillow's GIF reader raises IndexError."""
    whole = imagegen.animated_gif()
    return whole[: len(whole) - 57]


def jpeg_html_polyglot() -> bytes:
    """A valid JPEG with an HTML page appended."""
    return imagegen.solid_jpeg((32, 32)) + imagegen.html()


# Frames outside their canvas (which the decoders refuse only when they reach them), a 144 MP canvas in 300 bytes.
APNG_FRAME_OUTSIDE = framegen.apng((64, 64), [(0, 0, 64, 64), (60, 60, 16, 16)])
WEBP_FRAME_OUTSIDE = framegen.animated_webp((64, 64), [(0, 0, 64, 64), (60, 60, 16, 16)])
WEBP_CANVAS_144_MP = framegen.animated_webp((12000, 12000), [(0, 0, 16, 16)])

# name -> (bytes, client's file name, HTTP status, error code)
REFUSED = {
    "zero_bytes": (imagegen.empty(), "empty.jpg", 400, "no_file"),
    "text_renamed_jpg": (imagegen.text_named_jpg(), "notes.jpg", 415, "unsupported_type"),
    "html": (imagegen.html(), "page.html", 415, "unsupported_type"),
    "html_renamed_png": (imagegen.html(), "page.png", 415, "unsupported_type"),
    "svg_with_script": (imagegen.svg(), "logo.svg", 415, "unsupported_type"),
    "pdf": (imagegen.pdf(), "doc.jpg", 415, "unsupported_type"),
    "zip": (imagegen.zip_archive(), "archive.jpg", 415, "unsupported_type"),
    "html_then_jpeg": (imagegen.html() + imagegen.solid_jpeg((8, 8)), "x.jpg", 415, "unsupported_type"),
    "tiff": (imagegen.tiff(), "scan.tif", 415, "unsupported_type"),
    "psd": (imagegen.psd(), "art.psd", 415, "unsupported_type"),
    "bmp": (imagegen.bmp(), "bitmap.bmp", 415, "unsupported_type"),
    "ico": (imagegen.ico(), "favicon.ico", 415, "unsupported_type"),
    "png_header_30000x30000": (imagegen.png_bomb_header(30000, 30000), "bomb.png", 422, "too_many_pixels"),
    "gif_1500_frames": (many_frames_gif(), "long.gif", 422, "too_many_frames"),
    "webp_1500_frames": (many_frames_webp(), "long.webp", 422, "too_many_frames"),
    "gif_frame_cut_short": (gif_with_a_frame_cut_short(), "cut.gif", 422, "invalid_image"),
    "gif_100x100_frames_growing_to_9000x9000": (framegen.growing_gif(), "grow.gif", 422, "too_many_pixels"),
    "apng_frame_outside_canvas": (APNG_FRAME_OUTSIDE, "a.png", 422, "invalid_image"),
    "webp_frame_outside_canvas": (WEBP_FRAME_OUTSIDE, "a.webp", 422, "invalid_image"),
    "webp_canvas_12000x12000": (WEBP_CANVAS_144_MP, "big.webp", 422, "too_many_pixels"),
}


@pytest.mark.parametrize(("data", "filename", "status", "code"), REFUSED.values(), ids=REFUSED.keys())
def test_hostile_file_is_refused_and_nothing_is_stored(app, client, fake_redis, data, filename, status, code):
    response = post_file(client, data, filename)
    assert response.status_code == status
    assert response.is_json and response.get_json()["error"]["code"] == code
    assert_nothing_stored(app, fake_redis)


def test_bomb_header_is_a_few_kilobytes_and_refused_fast(client):
    data = imagegen.png_bomb_header(30000, 30000)
    started = time.monotonic()
    response = post_file(client, data, "bomb.png")
    assert len(data) < 10_000
    assert response.status_code == 422
    assert time.monotonic() - started < 5


# name -> (bytes, content type recorded from the bytes, never from the name)
ACCEPTED = {
    "truncated_jpeg": (imagegen.truncated_jpeg(), "image/jpeg"),
    "truncated_png": (imagegen.truncated_png(), "image/png"),
    "jpeg_with_zip": (imagegen.jpeg_zip_polyglot(), "image/jpeg"),
    "jpeg_with_html": (jpeg_html_polyglot(), "image/jpeg"),
    "cmyk_jpeg": (imagegen.cmyk_jpeg(), "image/jpeg"),
    "png_16bit": (imagegen.png_16bit(), "image/png"),
    "palette_png_transparency": (imagegen.palette_png_with_transparency(), "image/png"),
    "greyscale_png": (imagegen.greyscale_png(), "image/png"),
    "jpeg_with_gps": (imagegen.jpeg_with_metadata(), "image/jpeg"),
    "gif_1000_frames": (many_frames_gif(1000), "image/gif"),
}


@pytest.mark.parametrize(("data", "content_type"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_file_with_a_good_header_is_accepted_and_queued(app, client, fake_redis, data, content_type):
    response = post_file(client, data, "upload.html")
    assert response.status_code == 202
    body = response.get_json()
    assert (body["status"], body["content_type"]) == ("queued", content_type)
    extension = content_type.rpartition("/")[2].replace("jpeg", "jpg")
    assert stored_keys(app) == [f"originals/{body['id']}.{extension}"]
    assert image_count(app) == 1 and queued_job_ids(fake_redis) == [f"image-{body['id']}"]


# --- malicious filenames -----------------------------------------------------------------------------

# client's name -> the display name stored (keys never depend on it)
FILENAMES = {
    "../../etc/passwd.jpg": "passwd.jpg",
    "a\x00b.jpg": "ab.jpg",
    "\x1b[31mred\x07\t.jpg": "[31mred.jpg",
    "photo\u202egpj.exe": "photogpj.exe",
    "CON": "CON",
    "NUL.jpg": "NUL.jpg",
    "фото 📷.jpg": "фото 📷.jpg",
    "..": "upload",
}


@pytest.mark.parametrize(("name", "display"), FILENAMES.items(), ids=[repr(name) for name in FILENAMES])
def test_malicious_filename_is_display_only_and_sanitised(app, client, name, display):
    body = post_file(client, imagegen.solid_jpeg((8, 8)), name).get_json()
    assert body["filename"] == display
    assert stored_keys(app) == [f"originals/{body['id']}.jpg"]


@pytest.mark.parametrize(
    ("name", "display"),
    [
        ("C:\\Users\\me\\..\\win.ini.jpg", "win.ini.jpg"),
        ("dir/\u0000.jpg", "jpg"),
        ("a\r\nb\x7f\u200b.png", "ab.png"),
        (" . ", "upload"),
        (None, "upload"),
    ],
)
def test_sanitize_filename_drops_windows_paths_and_dots(name, display):
    assert sanitize_filename(name) == display


def test_thousand_character_filename_is_capped_and_keeps_its_extension(client):
    body = post_file(client, imagegen.solid_jpeg((8, 8)), "x" * 1000 + ".jpg").get_json()
    assert len(body["filename"]) <= 200
    assert body["filename"].endswith("….jpg")


SCRIPTED_NAME = "<img src=x onerror=alert(1)>'.jpg"


def test_filename_is_escaped_on_the_upload_page_and_the_image_page(client):
    client = as_browser(client)
    body = post_file(client, imagegen.solid_jpeg((8, 8)), SCRIPTED_NAME).get_json()
    for url in ("/", f"/images/{body['id']}"):
        html = client.get(url).get_data(as_text=True)
        assert "<img src=x onerror" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;&#39;.jpg" in html


def test_filename_echoed_in_a_refusal_on_the_upload_page_is_escaped(client):
    from tests.security.conftest import csrf_token

    files = [(io.BytesIO(imagegen.html()), SCRIPTED_NAME), (io.BytesIO(imagegen.svg()), "b.svg")]
    response = client.post(
        "/upload", data={"csrf_token": csrf_token(client), "file": files}, content_type="multipart/form-data"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 415
    assert "<img src=x onerror" not in html and "&lt;img src=x onerror=alert(1)&gt;&#39;.jpg" in html


# --- processed by real workers -----------------------------------------------------------------------

# name -> (bytes, final status, error code, attempts)
PROCESSED = {
    "truncated_jpeg": (imagegen.truncated_jpeg(), "failed", "invalid_image", 1),
    "truncated_png": (imagegen.truncated_png(), "failed", "invalid_image", 1),
    "jpeg_with_zip": (imagegen.jpeg_zip_polyglot(), "done", None, 1),
    "jpeg_with_html": (jpeg_html_polyglot(), "done", None, 1),
    "cmyk_jpeg": (imagegen.cmyk_jpeg(), "done", None, 1),
    "png_16bit": (imagegen.png_16bit(), "done", None, 1),
    "palette_png_transparency": (imagegen.palette_png_with_transparency(), "done", None, 1),
    "greyscale_png": (imagegen.greyscale_png(), "done", None, 1),
    "jpeg_with_gps": (imagegen.jpeg_with_metadata(), "done", None, 1),
    **{f"orientation_{n}": (imagegen.oriented_jpeg(n), "done", None, 1) for n in range(1, 9)},
    # 100 frames composited on a 7000x7000 canvas are past the animation budget: still variants from the first frame.
    "gif_100x100_100_frames_growing_to_7000x7000": (framegen.growing_gif(reach=(7000, 7000)), "done", None, 1),
}
LEAKS = (b"PK\x03\x04", b"<script", b"<html", b"secret location", b"PixlineCam", b"Exif", b"xmpmeta")


@pytest.fixture(scope="module")
def processed(tmp_path_factory, redis_server):
    """Every PROCESSED row uploaded to one live stack with two real workers, followed to a final status."""
    import redis

    redis.Redis.from_url(redis_server).flushall()
    stack = Stack(tmp_path_factory.mktemp("hostile"), redis_server, {"RETRY_MAX": "2"})
    try:
        stack.start_worker()
        stack.start_worker()
        ids = {name: stack.upload(data, f"{name}.jpg").get_json()["id"] for name, (data, *_) in PROCESSED.items()}
        images = {name: wait_for_status(stack.client, ids[name], {"done", "failed"}, 120) for name in ids}
        yield stack, images
    finally:
        stack.stop()
        from app.extensions import db

        with stack.app.app_context():
            db.session.remove()
            db.engine.dispose()


def fetch(stack, url: str) -> bytes:
    """GET a media URL, checking the headers every media response must carry."""
    response = stack.client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] in ("image/avif", "image/webp")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    return response.data


def variant_pictures(stack, image: dict) -> list[Image.Image]:
    """Every variant of an image, downloaded and decoded."""
    pictures = []
    for variant in image["variants"].values():
        picture = Image.open(io.BytesIO(fetch(stack, variant["url"])))
        picture.load()
        pictures.append(picture)
    return pictures


def close_to(actual, expected, tolerance: int = 40) -> bool:
    """Whether two colours match within lossy-compression noise."""
    return all(abs(a - b) <= tolerance for a, b in zip(actual, expected, strict=True))


@pytest.mark.integration
@pytest.mark.parametrize(("name", "row"), PROCESSED.items(), ids=PROCESSED.keys())
def test_processed_file_reaches_its_final_status(processed, name, row):
    stack, images = processed
    _, status, code, attempts = row
    image = images[name]
    assert (image["status"], (image["error"] or {}).get("code"), image["attempts"]) == (status, code, attempts)
    variant_keys = list(LocalStorage(stack.env["STORAGE_ROOT"]).keys(f"variants/{image['id']}/"))
    # Four variants, each in every output format (AVIF and WebP by default).
    assert len(variant_keys) == (4 * len(stack.app.config["OUTPUT_FORMATS"]) if status == "done" else 0)


@pytest.mark.integration
@pytest.mark.parametrize("name", [name for name, row in PROCESSED.items() if row[1] == "done"])
def test_variants_are_clean_reencodes_without_metadata(processed, name):
    stack, images = processed
    for source in (source for variant in images[name]["variants"].values() for source in variant["sources"]):
        data = fetch(stack, source["url"])
        assert not any(marker in data for marker in LEAKS)
        picture = Image.open(io.BytesIO(data))
        assert not {"exif", "xmp", "comment", "icc_profile"} & picture.info.keys()
        assert not picture.getexif()


@pytest.mark.integration
@pytest.mark.parametrize("name", ["jpeg_with_html", "jpeg_with_gps"])
def test_original_is_not_served_by_default(processed, name):
    stack, images = processed
    image = images[name]
    assert image["original_url"] is None
    assert stack.client.get(f"/media/originals/{image['id']}.jpg").status_code == 404


@pytest.mark.integration
@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_variant_comes_out_upright(processed, orientation):
    stack, images = processed
    image = images[f"orientation_{orientation}"]
    assert (image["width"], image["height"]) == (96, 64)
    for picture in variant_pictures(stack, image):
        picture = picture.convert("RGB")
        width, height = picture.size
        assert width > height
        assert close_to(picture.getpixel((width // 4, height // 4)), imagegen.QUADRANT_COLOURS["top_left"])
        assert close_to(picture.getpixel((3 * width // 4, height // 4)), imagegen.QUADRANT_COLOURS["top_right"])
        assert close_to(picture.getpixel((width // 4, 3 * height // 4)), imagegen.QUADRANT_COLOURS["bottom_left"])


# name -> (a pixel, its expected colour after conversion to RGBA)
COLOURS = {
    "cmyk_jpeg": ((10, 10), (255, 0, 0, 255)),
    "png_16bit": ((10, 10), (156, 156, 156, 255)),
    "greyscale_png": ((10, 10), (128, 128, 128, 255)),
    "palette_png_transparency": ((58, 24), (255, 0, 0, 255)),
}


@pytest.mark.integration
@pytest.mark.parametrize(("name", "pixel", "colour"), [(n, *c) for n, c in COLOURS.items()], ids=COLOURS.keys())
def test_unusual_modes_keep_their_colours(processed, name, pixel, colour):
    stack, images = processed
    for picture in variant_pictures(stack, images[name]):
        assert close_to(picture.convert("RGBA").getpixel(pixel), colour)


@pytest.mark.integration
def test_palette_transparency_survives(processed):
    stack, images = processed
    for picture in variant_pictures(stack, images["palette_png_transparency"]):
        assert picture.convert("RGBA").getpixel((5, 24))[3] == 0
