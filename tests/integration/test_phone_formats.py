"""Photos as phones and cameras make them, through the API and real worker processes: one table, row by row.

Every row is uploaded to one live stack with two real workers and followed to `done`; then each row states what a
user would check: the recorded type, the variant sizes, a pixel of orientation or colour, frames and durations of
animations, and no metadata in any variant. Finer pixel checks of each case live in tests/unit/test_formats.py.
"""

import io

import pytest
from PIL import Image

from tests import imagegen, phonegen
from tests.conftest import Stack, dispose_app
from tests.support.polling import wait_for_status
from tests.unit.test_formats import assert_upright_quadrants, close_to

VARIANTS = "thumb:16,small:48,medium:100"
RED = phonegen.RED
# name -> (bytes, recorded content type, upright size, check of the largest variant's first frame, frames)
ROWS = {
    "mpo": (phonegen.mpo(), "image/jpeg", (96, 64), assert_upright_quadrants, 1),
    "mpo_orientation_6": (phonegen.mpo(6), "image/jpeg", (96, 64), assert_upright_quadrants, 1),
    "heic": (phonegen.heic(), "image/heic", (96, 64), assert_upright_quadrants, 1),
    "heic_orientation_6": (phonegen.heic(6), "image/heic", (96, 64), assert_upright_quadrants, 1),
    "heic_display_p3": (phonegen.heic_display_p3(), "image/heic", (64, 48), (20, 20, (*RED[:3], 255)), 1),
    "heic_10bit": (phonegen.heic_10bit(), "image/heic", (64, 48), (20, 20, (155, 78, 39, 255)), 1),
    "avif_orientation_6": (phonegen.avif(6), "image/avif", (96, 64), assert_upright_quadrants, 1),
    "gif_disposals": (phonegen.gif_with_disposals(), "image/gif", (32, 32), (8, 8, phonegen.BLUE), 4),
    "animated_webp": (phonegen.animated_webp(), "image/webp", (32, 32), (8, 8, RED), 3),
    "apng": (phonegen.apng(), "image/png", (32, 32), (8, 8, phonegen.BLUE), 3),
    "cmyk_jpeg_adobe": (imagegen.cmyk_jpeg(), "image/jpeg", (64, 64), (10, 10, (255, 0, 0, 255)), 1),
    "png_16bit": (imagegen.png_16bit(), "image/png", (64, 48), (10, 10, (156, 156, 156, 255)), 1),
    "la_png": (imagegen.greyscale_alpha_png(), "image/png", (64, 48), (58, 24, (128, 128, 128, 255)), 1),
    "palette_png": (imagegen.palette_png_with_transparency(), "image/png", (64, 48), (58, 24, (255, 0, 0, 255)), 1),
    "grey_jpeg_icc": (phonegen.greyscale_jpeg_with_icc(), "image/jpeg", (64, 48), (10, 10, (188, 188, 188, 255)), 1),
}
DURATIONS = {"gif_disposals": [100, 200, 300, 400], "animated_webp": [80, 160, 240], "apng": [100, 150, 200]}
LEAKS = (b"Exif", b"xmpmeta", b"ICCP", b"XMP ")


@pytest.fixture(scope="module")
def processed(tmp_path_factory, redis_server):
    """Every row uploaded to one live stack with two real workers, followed to a final status."""
    import redis

    redis.Redis.from_url(redis_server).flushall()
    stack = Stack(tmp_path_factory.mktemp("phones"), redis_server, {"IMAGE_VARIANTS": VARIANTS, "RETRY_MAX": "1"})
    try:
        stack.start_worker()
        stack.start_worker()
        uploads = {name: stack.upload(data, f"{name}.bin") for name, (data, *_) in ROWS.items()}
        assert {name: response.status_code for name, response in uploads.items()} == dict.fromkeys(ROWS, 202)
        ids = {name: response.get_json()["id"] for name, response in uploads.items()}
        yield stack, {name: wait_for_status(stack.client, ids[name], {"done", "failed"}, 120) for name in ids}
    finally:
        stack.stop()
        dispose_app(stack.app)


def fetch(stack, url: str) -> bytes:
    """GET a variant through /media."""
    response = stack.client.get(url)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/webp"
    return response.data


@pytest.mark.integration
@pytest.mark.parametrize("name", ROWS)
def test_phone_photo_is_processed_as_what_it_is(processed, name):
    stack, images = processed
    _, content_type, size, check, frames = ROWS[name]
    image = images[name]
    assert (image["status"], image["error"], image["content_type"]) == ("done", None, content_type)
    assert (image["width"], image["height"]) == size
    variants = image["variants"]
    assert [(variants[n]["width"], variants[n]["height"]) for n in ("medium", "thumb")] == [
        size,
        (16, round(size[1] * 16 / size[0])),
    ]
    assert {(v["animated"], v["frames"]) for v in variants.values()} == {(frames > 1, frames)}
    data = fetch(stack, variants["medium"]["url"])
    assert not any(marker in data for marker in LEAKS)
    picture = Image.open(io.BytesIO(data))
    assert getattr(picture, "n_frames", 1) == frames
    if name in DURATIONS:
        durations = []
        for index in range(picture.n_frames):
            picture.seek(index)
            picture.load()
            durations.append(picture.info["duration"])
        assert durations == DURATIONS[name]
        picture.seek(0)
    picture.load()
    if callable(check):
        check(picture)
    else:
        x, y, colour = check
        assert close_to(picture.convert("RGBA").getpixel((x, y)), colour, tolerance=16)


@pytest.mark.integration
def test_originals_are_stored_under_their_family_type(processed):
    stack, images = processed
    from app.storage import LocalStorage

    keys = set(LocalStorage(stack.env["STORAGE_ROOT"]).keys("originals/"))
    assert f"originals/{images['mpo']['id']}.jpg" in keys
    assert f"originals/{images['heic']['id']}.heic" in keys
    assert f"originals/{images['avif_orientation_6']['id']}.avif" in keys


@pytest.mark.parametrize("brand", [b"mp42", b"qt  "])
def test_a_video_in_an_iso_container_is_refused_as_unsupported(client, brand):
    video = b"\x00\x00\x00\x18ftyp" + brand + b"\x00\x00\x00\x00" + brand + b"\x00" * 64
    response = client.post(
        "/api/images", data={"file": (io.BytesIO(video), "clip.heic")}, content_type="multipart/form-data"
    )
    assert response.status_code == 415 and response.get_json()["error"]["code"] == "unsupported_type"
