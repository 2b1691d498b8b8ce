"""Every frame's rectangle is checked before any frame is decoded: GIF, APNG and WebP files whose header lies.

The files are hostile by construction (tests/framegen.py): a GIF whose header says 100x100 and whose later frames
reach 9000x9000 (Pillow's reader grows its canvas for them), APNG and WebP frames outside their canvas, a WebP
canvas of 144 MP in a few hundred bytes. Each is refused at upload (sniff) and in the worker (render_variants)
before a decoder sees a pixel.
"""

import io

import pytest
from PIL import Image, ImageFile, WebPImagePlugin

from app.imaging import InvalidImage, TooManyFrames, TooManyPixels, parse_variant_specs, render, render_variants, sniff
from app.imaging.layout import read_layout
from tests import framegen, imagegen, phonegen

SPECS = parse_variant_specs("thumb:16,small:48")
MAX_PIXELS = 50_000_000
GROWING = framegen.growing_gif(frames=3)


def close_to(actual, expected, tolerance: int = 24) -> bool:
    """Whether two colours match within lossy-compression noise."""
    return all(abs(a - b) <= tolerance for a, b in zip(actual, expected, strict=True))


@pytest.fixture
def nothing_decoded(monkeypatch):
    """Fail the test if any frame is decoded or a WebP decoder is made."""

    def refuse(*args, **kwargs):
        raise AssertionError("a decoder ran")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(WebPImagePlugin._webp, "WebPAnimDecoder", refuse)


def test_gif_frame_growing_the_canvas_past_the_limit_is_refused_at_upload():
    with pytest.raises(TooManyPixels, match=r"Frame 2 of the GIF \(1x1 at \(8999, 8999\)\) grows its 100x100 canvas"):
        sniff(io.BytesIO(GROWING), MAX_PIXELS, max_frames=1000)


def test_gif_frame_growing_the_canvas_past_the_limit_is_refused_before_any_frame_is_decoded(nothing_decoded):
    with pytest.raises(TooManyPixels, match="to 9000x9000, more than the limit of 50,000,000 pixels"):
        render_variants(GROWING, SPECS, max_pixels=MAX_PIXELS)


def test_gif_frames_reaching_past_the_screen_count_their_real_canvas_in_the_animation_budget():
    # 10 frames on a 1000x1000 canvas are 10 MP of decoding, past a source budget of 4 x 1 MP; the header says 0.1 MP.
    data = framegen.gif((100, 100), [(0, 0, 100, 100, 1)] + [(999, 999, 1, 1, 2)] * 9)
    rendered = render_variants(data, SPECS, max_animation_pixels=1_000_000)
    assert [(variant.animated, variant.frames) for variant in rendered.variants] == [(False, 1), (False, 1)]


def test_gif_frames_reaching_past_the_screen_are_clipped_to_it_as_browsers_show_them():
    # Red 32x32, then a green 48x48 square from (16, 16): the screen shows its top-left quarter, over the red.
    data = framegen.gif((32, 32), [(0, 0, 32, 32, 1), (16, 16, 48, 48, 2)])
    variant = render_variants(data, parse_variant_specs("whole:32")).variants[0]
    assert (variant.width, variant.height, variant.frames) == (32, 32, 2)
    second = Image.open(io.BytesIO(variant.data))
    second.seek(1)
    second = second.convert("RGB")
    assert all(close_to(second.getpixel(point), (255, 0, 0)) for point in ((8, 8), (8, 24), (24, 8)))
    assert close_to(second.getpixel((24, 24)), (0, 255, 0))


def test_animation_whose_canvas_is_past_the_animated_canvas_cap_is_rendered_still(monkeypatch):
    monkeypatch.setattr(render, "MAX_ANIMATED_CANVAS", 32 * 32)
    data = framegen.gif((64, 64), [(0, 0, 64, 64, 1), (0, 0, 64, 64, 2)])
    assert not any(variant.animated for variant in render_variants(data, SPECS).variants)


def test_gif_frames_past_max_frames_are_refused_without_reading_the_rest():
    data = framegen.gif((8, 8), [(0, 0, 8, 8, 1)] * 20)
    with pytest.raises(TooManyFrames, match="more than 10 frames"):
        read_layout(io.BytesIO(data), max_frames=10)


def test_apng_frame_outside_its_canvas_is_refused_at_upload():
    data = framegen.apng((64, 64), [(0, 0, 64, 64), (60, 60, 16, 16)])
    with pytest.raises(InvalidImage, match=r"Frame 2 of the PNG \(16x16 at \(60, 60\)\) lies outside its 64x64"):
        sniff(io.BytesIO(data), MAX_PIXELS, max_frames=1000)


def test_apng_frames_inside_the_canvas_are_read_without_decoding(nothing_decoded):
    layout = read_layout(io.BytesIO(framegen.apng((64, 64), [(0, 0, 64, 64), (8, 8, 16, 16), (0, 0, 64, 64)])))
    assert (layout.format, layout.canvas, layout.extent, layout.frames) == ("PNG", (64, 64), (64, 64), 3)


def test_webp_frame_outside_its_canvas_is_refused_at_upload():
    data = framegen.animated_webp((64, 64), [(0, 0, 64, 64), (60, 60, 16, 16)])
    with pytest.raises(InvalidImage, match=r"Frame 2 of the WebP \(16x16 at \(60, 60\)\) lies outside its 64x64"):
        sniff(io.BytesIO(data), MAX_PIXELS, max_frames=1000)


def test_webp_canvas_past_the_limit_is_refused_before_its_decoder_allocates_it(nothing_decoded):
    # libwebp's animation decoder allocates the canvas when it is made; Pillow makes it before its own size check.
    data = framegen.animated_webp((12000, 12000), [(0, 0, 16, 16)])
    assert len(data) < 1000
    with pytest.raises(TooManyPixels, match="12000x12000"):
        sniff(io.BytesIO(data), MAX_PIXELS, max_frames=1000)


@pytest.mark.parametrize(
    "data",
    [imagegen.solid_jpeg((8, 8)), phonegen.mpo(), phonegen.heic(), phonegen.avif()],
    ids=["jpeg", "mpo", "heic", "avif"],
)
def test_stills_have_no_layout_their_primary_picture_is_all_that_is_decoded(data):
    assert read_layout(io.BytesIO(data)) is None
