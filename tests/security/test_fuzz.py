"""A short fuzz run of the upload validator and the renderer: random bytes and mutated valid images.

No crash, no 5xx, only the documented codes at upload; only Pixline's own errors from the renderer.
Time-budgeted: a few hundred examples, about 10 s.
"""

import contextlib
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.exceptions import PixlineError
from app.imaging import parse_variant_specs, render_variants
from tests import imagegen

UPLOAD_OUTCOMES = {
    202: {None},
    400: {"no_file"},
    415: {"unsupported_type"},
    422: {"too_many_pixels", "too_many_frames", "invalid_image"},
}
SEEDS = [
    imagegen.solid_jpeg((24, 16)),
    imagegen.noisy_jpeg((24, 24), progressive=True),
    imagegen.rgba_png((24, 16)),
    imagegen.palette_png_with_transparency((24, 16)),
    imagegen.rgba_webp((24, 16)),
    imagegen.animated_gif(size=(16, 16)),
    imagegen.animated_webp(size=(16, 16)),
    imagegen.oriented_jpeg(6, (24, 16)),
]
SPECS = parse_variant_specs("a:16,b:8")
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def mutated_images(draw) -> bytes:
    """A valid image with a few bytes flipped, a slice cut out or inserted, or its tail cut off."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if action == "flip":
            data[position] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[position : position + draw(st.integers(1, 64))]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=64))
        else:
            del data[max(position, 1) :]
        if not data:
            break
    return bytes(data)


def assert_documented_outcome(response) -> None:
    """The upload answered with one of the documented statuses and codes."""
    assert response.status_code in UPLOAD_OUTCOMES, response.get_data(as_text=True)
    code = response.get_json().get("error", {}).get("code") if response.status_code != 202 else None
    assert code in UPLOAD_OUTCOMES[response.status_code]


def upload(client, data: bytes):
    """Post bytes to the API."""
    return client.post("/api/images", data={"file": (io.BytesIO(data), "f.jpg")}, content_type="multipart/form-data")


@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes_get_a_documented_answer(client, data):
    assert_documented_outcome(upload(client, data))


@FUZZ
@given(data=mutated_images())
def test_mutated_images_get_a_documented_answer(client, data):
    assert_documented_outcome(upload(client, data))


@FUZZ
@given(data=mutated_images())
def test_renderer_raises_only_pixline_errors_on_mutated_images(data):
    with contextlib.suppress(PixlineError):
        render_variants(data, SPECS)
