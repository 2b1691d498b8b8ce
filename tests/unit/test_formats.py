"""What phones and cameras make, through app.imaging on in-memory images: every format, mode and animation.

Each row states what a user would check: the variants' sizes, a pixel of orientation and colour, frame counts and
durations for animations, and no metadata in any variant.
"""

import io

import pytest
from PIL import Image

from app.imaging import (
    ACCEPT_ATTRIBUTE,
    BROWSER_TYPES,
    INPUT_FORMATS,
    Header,
    PixlineError,
    TooManyPixels,
    UnsupportedType,
    parse_variant_specs,
    plugins,
    render_variants,
    sniff,
)
from app.imaging.decode import normalize
from tests import imagegen, phonegen

SPECS = parse_variant_specs("thumb:16,small:48,medium:100")
MAX_PIXELS = 50_000_000


def decoded(variant) -> Image.Image:
    """A rendered variant, decoded (first frame)."""
    picture = Image.open(io.BytesIO(variant.data))
    picture.load()
    return picture


def close_to(actual, expected, tolerance: int = 40) -> bool:
    """Whether two colours match within lossy-compression noise."""
    return all(abs(a - b) <= tolerance for a, b in zip(actual, expected, strict=True))


def assert_upright_quadrants(picture: Image.Image) -> None:
    """The picture is quadrants(), the right way up."""
    picture = picture.convert("RGB")
    width, height = picture.size
    assert width > height
    assert close_to(picture.getpixel((width // 4, height // 4)), imagegen.QUADRANT_COLOURS["top_left"])
    assert close_to(picture.getpixel((3 * width // 4, height // 4)), imagegen.QUADRANT_COLOURS["top_right"])
    assert close_to(picture.getpixel((width // 4, 3 * height // 4)), imagegen.QUADRANT_COLOURS["bottom_left"])


def assert_no_metadata(variant) -> None:
    """No EXIF, XMP, ICC or comment in the variant's bytes or as Pillow reads them."""
    assert not any(marker in variant.data for marker in (b"Exif", b"xmpmeta", b"ICCP", b"XMP "))
    picture = Image.open(io.BytesIO(variant.data))
    assert not {"exif", "xmp", "comment", "icc_profile"} & picture.info.keys()


def webp_frames(variant) -> list[tuple[Image.Image, int]]:
    """Every frame of an animated WebP variant with its duration."""
    picture = Image.open(io.BytesIO(variant.data))
    frames = []
    for index in range(picture.n_frames):
        picture.seek(index)
        frames.append((picture.convert("RGBA"), picture.info["duration"]))
    return frames


# name -> (bytes, the content type recorded, how to check each variant's first frame)
STILLS = {
    "mpo": (phonegen.mpo(), "image/jpeg", assert_upright_quadrants),
    "mpo_orientation_6": (phonegen.mpo(6), "image/jpeg", assert_upright_quadrants),
    "heic": (phonegen.heic(), "image/heic", assert_upright_quadrants),
    "heic_orientation_6": (phonegen.heic(6), "image/heic", assert_upright_quadrants),
    "heic_with_extras": (phonegen.heic_with_extras(), "image/heic", assert_upright_quadrants),
    "avif_orientation_6": (phonegen.avif(6), "image/avif", assert_upright_quadrants),
    "avif": (phonegen.avif(), "image/avif", assert_upright_quadrants),
}
# name -> (bytes, content type, pixel, expected RGBA there)
COLOURS = {
    "heic_display_p3": (phonegen.heic_display_p3(), "image/heic", (20, 20), (*phonegen.P3_RED_IN_SRGB, 255)),
    "heic_10bit": (phonegen.heic_10bit(), "image/heic", (20, 20), (155, 78, 39, 255)),
    "cmyk_jpeg_adobe_inverted": (imagegen.cmyk_jpeg(), "image/jpeg", (10, 10), (255, 0, 0, 255)),
    "png_16bit": (imagegen.png_16bit(), "image/png", (10, 10), (156, 156, 156, 255)),
    "la_png_opaque_half": (imagegen.greyscale_alpha_png(), "image/png", (58, 24), (128, 128, 128, 255)),
    "la_png_clear_half": (imagegen.greyscale_alpha_png(), "image/png", (5, 24), None),
    "palette_png_opaque": (imagegen.palette_png_with_transparency(), "image/png", (58, 24), (255, 0, 0, 255)),
    "palette_png_clear": (imagegen.palette_png_with_transparency(), "image/png", (5, 24), None),
    "greyscale_jpeg_linear_icc": (phonegen.greyscale_jpeg_with_icc(128), "image/jpeg", (10, 10), (188, 188, 188, 255)),
    "one_bit_png": (imagegen.one_bit_png(), "image/png", (58, 24), (255, 255, 255, 255)),
}


@pytest.mark.parametrize(("data", "content_type", "check"), STILLS.values(), ids=STILLS.keys())
def test_phone_still_is_sniffed_by_its_bytes_and_rendered_upright(data, content_type, check):
    header = sniff(io.BytesIO(data), MAX_PIXELS, 1000)
    assert header.content_type == content_type
    rendered = render_variants(data, SPECS)
    assert (rendered.width, rendered.height) == (96, 64)
    assert [(v.width, v.height, v.animated, v.frames) for v in rendered.variants] == [
        (16, 11, False, 1),
        (48, 32, False, 1),
        (96, 64, False, 1),
    ]
    for variant in rendered.variants[1:]:
        check(decoded(variant))
        assert_no_metadata(variant)


@pytest.mark.parametrize(("data", "content_type", "pixel", "colour"), COLOURS.values(), ids=COLOURS.keys())
def test_unusual_colour_and_mode_keeps_its_colour_in_srgb(data, content_type, pixel, colour):
    assert sniff(io.BytesIO(data), MAX_PIXELS, 1000).content_type == content_type
    variant = render_variants(data, SPECS).variants[-1]
    assert_no_metadata(variant)
    actual = decoded(variant).convert("RGBA").getpixel(pixel)
    if colour is None:
        assert actual[3] == 0
    else:
        assert close_to(actual, colour, tolerance=12)


def test_display_p3_is_converted_not_just_untagged():
    actual = decoded(render_variants(phonegen.heic_display_p3(), SPECS).variants[-1]).convert("RGB").getpixel((20, 20))
    assert not close_to(actual, phonegen.P3_RED_IN_P3, tolerance=12)


def test_mpo_and_heic_are_recorded_as_their_family():
    assert sniff(io.BytesIO(phonegen.mpo()), MAX_PIXELS) == Header("JPEG", 96, 64)
    heic = sniff(io.BytesIO(phonegen.heic()), MAX_PIXELS)
    assert (heic.content_type, heic.extension) == ("image/heic", "heic")
    avif = sniff(io.BytesIO(phonegen.avif()), MAX_PIXELS)
    assert (avif.content_type, avif.extension) == ("image/avif", "avif")


def test_heic_pixel_limit_is_checked_from_the_header_without_decoding(monkeypatch):
    from pillow_heif.as_plugin import _LibHeifImageFile

    def refuse(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(_LibHeifImageFile, "load", refuse)
    with pytest.raises(TooManyPixels):
        sniff(io.BytesIO(phonegen.heic()), max_pixels=96 * 64 - 1)
    with pytest.raises(TooManyPixels):
        render_variants(phonegen.heic(), SPECS, max_pixels=96 * 64 - 1)


@pytest.fixture
def without_pillow_heif(monkeypatch):
    """The server as it is when pillow-heif is not installed."""

    def missing(name):
        raise ImportError(f"No module named {name!r}")

    plugins._register.cache_clear()
    monkeypatch.setattr(plugins, "import_module", missing)
    yield
    plugins._register.cache_clear()


def test_heic_without_its_plugin_is_refused_with_a_message(without_pillow_heif):
    with pytest.raises(UnsupportedType, match="pillow-heif is not installed") as refused:
        sniff(io.BytesIO(phonegen.heic()), MAX_PIXELS)
    assert refused.value.status == 415
    # Everything else is still read.
    assert sniff(io.BytesIO(phonegen.avif()), MAX_PIXELS).format == "AVIF"


@pytest.mark.parametrize("brand", [b"mp42", b"isom", b"qt  ", b"crx "])
def test_other_iso_media_files_are_refused(brand):
    video = b"\x00\x00\x00\x18ftyp" + brand + b"\x00\x00\x00\x00" + brand + b"\x00" * 64
    with pytest.raises(UnsupportedType):
        sniff(io.BytesIO(video), MAX_PIXELS)


MODES = ["1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "I", "F"]
MODES += ["I;16", "I;16L", "I;16B", "I;16N"]


@pytest.mark.parametrize("mode", MODES)
def test_every_pillow_mode_maps_to_a_working_mode_or_a_4xx(mode):
    picture = imagegen.gradient(mode, (8, 8)) if mode in ("P", "LA", "I;16") else Image.new(mode, (8, 8))
    try:
        working = normalize(picture)
    except PixlineError as error:
        assert 400 <= error.status < 500
    else:
        assert working.mode in ("L", "RGB", "RGBA")


# --- animation -------------------------------------------------------------------------------------------------


def test_gif_disposals_and_transparency_are_composited_into_every_frame():
    variant = render_variants(phonegen.gif_with_disposals(), SPECS).variants[-1]
    assert (variant.animated, variant.frames, variant.width) == (True, 4, 32)
    frames = webp_frames(variant)
    assert [duration for _, duration in frames] == [100, 200, 300, 400]
    pixels = [[frame.getpixel(point) for point in ((8, 8), (24, 8), (8, 24), (24, 24))] for frame, _ in frames]
    blue, red, green, white = phonegen.BLUE, phonegen.RED, phonegen.GREEN, phonegen.WHITE
    expected = [
        [blue, blue, blue, blue],
        [red, blue, blue, blue],
        [blue, blue, blue, green],  # frame 1 was disposed to the previous picture: no red left
        [blue, white, blue, None],  # frame 2 was disposed to the background: the green corner is clear
    ]
    for frame_pixels, frame_expected in zip(pixels, expected, strict=True):
        for actual, wanted in zip(frame_pixels, frame_expected, strict=True):
            assert actual[3] == 0 if wanted is None else close_to(actual, wanted, tolerance=24)


def test_apng_blend_and_dispose_ops_are_composited():
    variant = render_variants(phonegen.apng(), SPECS).variants[-1]
    frames = webp_frames(variant)
    assert [duration for _, duration in frames] == [100, 150, 200]
    assert close_to(frames[1][0].getpixel((8, 8)), (128, 0, 127, 255), tolerance=24)  # half red over blue
    assert close_to(frames[2][0].getpixel((8, 8)), phonegen.BLUE, tolerance=24)  # the red square disposed
    assert close_to(frames[2][0].getpixel((24, 24)), phonegen.WHITE, tolerance=24)


def test_animated_webp_keeps_frames_durations_and_loop_count():
    rendered = render_variants(phonegen.animated_webp(), SPECS)
    for variant in rendered.variants:
        assert (variant.animated, variant.frames) == (True, 3)
        assert Image.open(io.BytesIO(variant.data)).info["loop"] == 3
        assert_no_metadata(variant)
    frames = webp_frames(rendered.variants[-1])
    assert [duration for _, duration in frames] == [80, 160, 240]
    colours = [[frame.getpixel((4, 16)), frame.getpixel((28, 16))] for frame, _ in frames]
    blue, red, green, white = phonegen.BLUE, phonegen.RED, phonegen.GREEN, phonegen.WHITE
    for actual, wanted in zip(colours, [[red, red], [green, green], [white, blue]], strict=True):
        assert close_to(actual[0], wanted[0], tolerance=24) and close_to(actual[1], wanted[1], tolerance=24)


def test_variants_past_the_animation_budget_are_still():
    frames = 4 * 32 * 32
    rendered = render_variants(phonegen.gif_with_disposals(), SPECS, max_animation_pixels=frames - 1)
    assert [(v.name, v.animated, v.frames) for v in rendered.variants] == [
        ("thumb", True, 4),
        ("small", False, 1),
        ("medium", False, 1),
    ]
    assert Image.open(io.BytesIO(rendered.variants[-1].data)).n_frames == 1


def test_animation_off_or_jpeg_output_renders_every_variant_still():
    for options in ({"animation": False}, {"output_format": "jpeg"}, {"output_format": "png"}):
        rendered = render_variants(phonegen.animated_webp(), SPECS, **options)
        assert all(not v.animated and v.frames == 1 for v in rendered.variants)
        assert close_to(decoded(rendered.variants[-1]).convert("RGB").getpixel((8, 8)), phonegen.RED[:3])


def test_mpo_second_picture_is_not_an_animation():
    assert all(not variant.animated for variant in render_variants(phonegen.mpo(), SPECS).variants)


# --- the one table ---------------------------------------------------------------------------------------------


def test_every_list_of_accepted_types_comes_from_the_format_table():
    from app.web.pages import ACCEPTED_TYPES

    names = [kind.name for kind in INPUT_FORMATS]
    assert names == ["JPEG", "PNG", "WebP", "GIF", "HEIC", "AVIF"]
    assert all(name in UnsupportedType.message for name in names)
    assert set(ACCEPTED_TYPES) == set(BROWSER_TYPES) >= {kind.content_type for kind in INPUT_FORMATS}
    assert ".heic" in ACCEPT_ATTRIBUTE.split(",")


def test_upload_page_offers_what_the_server_accepts(client):
    html = client.get("/").get_data(as_text=True)
    assert f'accept="{ACCEPT_ATTRIBUTE}"' in html
    assert "JPEG, PNG, WebP, GIF, HEIC or AVIF · up to" in html
