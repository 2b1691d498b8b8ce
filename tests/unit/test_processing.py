"""Unit tests for app.imaging: sniffing, variant specs and rendering, all on in-memory images."""

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageFile

from app.imaging import (
    Header,
    InvalidImage,
    TooLargeToProcess,
    TooManyPixels,
    UnsupportedType,
    VariantSpec,
    errors,
    parse_variant_specs,
    render_variants,
    sniff,
    webp_method,
)
from tests import imagegen

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
SPECS = parse_variant_specs("thumb:160,small:480,medium:1024,large:2048")
SMALL_SPECS = parse_variant_specs("thumb:16,small:48,medium:100")
MAX_PIXELS = 50_000_000


def render(data: bytes, specs=SMALL_SPECS, **options):
    """Render with the small specs unless told otherwise."""
    return render_variants(data, specs, **options)


def reopen(variant) -> Image.Image:
    """Decode a rendered variant."""
    image = Image.open(io.BytesIO(variant.data))
    image.load()
    return image


def close_to(actual, expected, tolerance: int = 40) -> bool:
    """Whether two colours match within lossy-compression noise."""
    return all(abs(a - b) <= tolerance for a, b in zip(actual, expected, strict=True))


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if any pixel data is decoded."""

    def refuse(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


# --- sniff -------------------------------------------------------------------------------------------

ACCEPTED = [
    (imagegen.solid_jpeg((40, 30)), Header("JPEG", 40, 30)),
    (imagegen.rgba_png((40, 30)), Header("PNG", 40, 30)),
    (imagegen.rgba_webp((40, 30)), Header("WEBP", 40, 30)),
    (imagegen.animated_gif(size=(40, 30)), Header("GIF", 40, 30)),
]


@pytest.mark.parametrize(("data", "header"), ACCEPTED, ids=[h.format for _, h in ACCEPTED])
def test_sniff_accepts_allowed_formats(data, header):
    assert sniff(io.BytesIO(data), MAX_PIXELS) == header


def test_sniff_reports_content_type_and_extension():
    header = sniff(io.BytesIO(imagegen.solid_jpeg((8, 8))), MAX_PIXELS)
    assert (header.content_type, header.extension) == ("image/jpeg", "jpg")


HOSTILE = {
    "text_named_jpg": imagegen.text_named_jpg,
    "svg": imagegen.svg,
    "html": imagegen.html,
    "pdf": imagegen.pdf,
    "zip": imagegen.zip_archive,
    "tiff": imagegen.tiff,
    "bmp": imagegen.bmp,
    "ico": imagegen.ico,
    "psd": imagegen.psd,
    "empty": imagegen.empty,
}


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_sniff_refuses_non_images_and_other_formats(make):
    with pytest.raises(UnsupportedType):
        sniff(io.BytesIO(make()), MAX_PIXELS)


def test_sniff_leaves_stream_at_start():
    stream = io.BytesIO(imagegen.solid_jpeg((8, 8)))
    stream.read(5)
    sniff(stream, MAX_PIXELS)
    assert stream.tell() == 0 and not stream.closed


def test_sniff_leaves_stream_at_start_after_refusing():
    stream = io.BytesIO(imagegen.text_named_jpg())
    with pytest.raises(UnsupportedType):
        sniff(stream, MAX_PIXELS)
    assert stream.tell() == 0 and not stream.closed


def test_sniff_reads_header_without_decoding(no_decoding):
    assert sniff(io.BytesIO(imagegen.noisy_jpeg((64, 64))), MAX_PIXELS).width == 64


def test_sniff_refuses_bomb_header_without_decoding(no_decoding):
    with pytest.raises(TooManyPixels):
        sniff(io.BytesIO(imagegen.png_bomb_header(30000, 30000)), MAX_PIXELS)


def test_sniff_refuses_more_pixels_than_the_limit():
    with pytest.raises(TooManyPixels):
        sniff(io.BytesIO(imagegen.solid_jpeg((100, 100))), max_pixels=9_999)


def test_sniff_accepts_exactly_the_pixel_limit():
    assert sniff(io.BytesIO(imagegen.solid_jpeg((100, 100))), max_pixels=10_000).width == 100


# --- parse_variant_specs -----------------------------------------------------------------------------


def test_parse_variant_specs_reads_names_and_sizes_in_order():
    assert parse_variant_specs(" thumb:160, large : 2048 ") == (
        VariantSpec("thumb", 160),
        VariantSpec("large", 2048),
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "thumb",
        "thumb:",
        ":160",
        "thumb:0",
        "thumb:-5",
        "thumb:1.5",
        "thumb:abc",
        "thumb:99999",
        "Thumb:160",
        "th umb:160",
        "thumb:160,",
        "thumb:160,thumb:480",
    ],
)
def test_parse_variant_specs_refuses_bad_input(text):
    with pytest.raises(ValueError, match="variant"):
        parse_variant_specs(text)


# --- sizes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((4000, 3000), [(160, 120), (480, 360), (1024, 768), (2048, 1536)]),
        ((1622, 2880), [(90, 160), (270, 480), (577, 1024), (1153, 2048)]),
        ((1000, 1000), [(160, 160), (480, 480), (1000, 1000), (1000, 1000)]),
        ((100, 50), [(100, 50)] * 4),
        ((3000, 2), [(160, 1), (480, 1), (1024, 1), (2048, 1)]),
    ],
    ids=["landscape", "portrait", "square", "tiny", "sliver"],
)
def test_variants_fit_their_box_and_are_never_upscaled(size, expected):
    rendered = render(imagegen.solid_jpeg(size), SPECS)
    assert [(v.width, v.height) for v in rendered.variants] == expected
    assert [reopen(v).size for v in rendered.variants] == expected


def test_variants_come_back_in_the_order_asked_for():
    specs = parse_variant_specs("medium:100,thumb:16,small:48")
    assert [v.name for v in render(imagegen.solid_jpeg((200, 100)), specs).variants] == [
        "medium",
        "thumb",
        "small",
    ]


def test_rendered_reports_the_original_size():
    rendered = render(imagegen.solid_jpeg((300, 200)))
    assert (rendered.width, rendered.height) == (300, 200)


# --- orientation -------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(192, 128), (768, 512)], ids=["full-decode", "draft-decode"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_is_applied_to_every_variant(orientation, size):
    rendered = render(imagegen.oriented_jpeg(orientation, size), parse_variant_specs("a:192,b:96,c:48"))
    assert (rendered.width, rendered.height) == size
    for variant in rendered.variants:
        picture = reopen(variant).convert("RGB")
        width, height = picture.size
        assert width > height
        assert close_to(picture.getpixel((width // 4, height // 4)), imagegen.QUADRANT_COLOURS["top_left"])
        assert close_to(picture.getpixel((3 * width // 4, height // 4)), imagegen.QUADRANT_COLOURS["top_right"])
        assert close_to(picture.getpixel((width // 4, 3 * height // 4)), imagegen.QUADRANT_COLOURS["bottom_left"])


def test_orientation_swaps_the_reported_size():
    rendered = render(imagegen.oriented_jpeg(6, (96, 64)))
    assert (rendered.width, rendered.height) == (96, 64)


# --- metadata ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("output_format", ["webp", "jpeg", "png"])
def test_outputs_carry_no_metadata(output_format):
    for variant in render(imagegen.jpeg_with_metadata(), output_format=output_format).variants:
        picture = reopen(variant)
        assert not {"exif", "xmp", "comment", "icc_profile"} & picture.info.keys()
        assert not picture.getexif()
        assert b"secret location" not in variant.data and b"PixlineCam" not in variant.data


def test_srgb_tagged_jpeg_keeps_its_colours():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    picture = reopen(render(imagegen.jpeg_with_icc(srgb)).variants[-1]).convert("RGB")
    assert close_to(picture.getpixel((10, 10)), (200, 30, 30), tolerance=12)


def test_unreadable_icc_profile_is_ignored():
    picture = reopen(render(imagegen.jpeg_with_icc(b"not a profile")).variants[-1]).convert("RGB")
    assert close_to(picture.getpixel((10, 10)), (200, 30, 30), tolerance=12)


def test_appended_zip_does_not_survive_rendering():
    for variant in render(imagegen.jpeg_zip_polyglot()).variants:
        assert b"PK\x03\x04" not in variant.data


# --- output formats and alpha ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output_format", "pillow_format", "content_type", "extension"),
    [
        ("webp", "WEBP", "image/webp", "webp"),
        ("jpeg", "JPEG", "image/jpeg", "jpg"),
        ("png", "PNG", "image/png", "png"),
    ],
)
def test_output_format_sets_format_type_and_extension(output_format, pillow_format, content_type, extension):
    variant = render(imagegen.solid_jpeg((64, 64)), output_format=output_format).variants[0]
    assert (variant.format, variant.content_type, variant.extension) == (
        output_format,
        content_type,
        extension,
    )
    assert reopen(variant).format == pillow_format
    assert variant.bytes == len(variant.data)


@pytest.mark.parametrize(("size", "method"), [((2048, 1152), 1), ((1152, 2048), 1), ((1024, 576), 2), ((160, 90), 2)])
def test_webp_method_is_fast_for_large_variants_and_thorough_for_small_ones(size, method):
    assert webp_method(*size) == method


@pytest.mark.parametrize("output_format", ["gif", "tiff", "WEBP", ""])
def test_unknown_output_format_raises_value_error(output_format):
    with pytest.raises(ValueError, match="output format"):
        render(imagegen.solid_jpeg((8, 8)), output_format=output_format)


@pytest.mark.parametrize("output_format", ["webp", "png"])
def test_alpha_is_kept_where_the_format_has_it(output_format):
    variant = render(imagegen.rgba_png((64, 48)), output_format=output_format).variants[-1]
    picture = reopen(variant).convert("RGBA")
    assert picture.getpixel((5, 24))[3] == 0
    assert close_to(picture.getpixel((58, 24)), (0, 0, 255, 255), tolerance=8)


def test_opaque_alpha_channel_is_dropped():
    opaque = imagegen.encode(Image.new("RGBA", (64, 48), (10, 20, 30, 255)), "PNG")
    assert reopen(render(opaque, output_format="png").variants[-1]).mode == "RGB"


def test_alpha_is_flattened_onto_white_in_jpeg():
    picture = reopen(render(imagegen.rgba_png((64, 48)), output_format="jpeg").variants[-1])
    assert picture.mode == "RGB"
    assert close_to(picture.getpixel((5, 24)), (255, 255, 255), tolerance=8)
    assert close_to(picture.getpixel((58, 24)), (0, 0, 255), tolerance=8)


# --- input modes -------------------------------------------------------------------------------------


def test_cmyk_jpeg_comes_out_red():
    picture = reopen(render(imagegen.cmyk_jpeg((0, 255, 255, 0))).variants[-1]).convert("RGB")
    assert close_to(picture.getpixel((10, 10)), (255, 0, 0))


def test_16_bit_png_keeps_its_brightness():
    picture = reopen(render(imagegen.png_16bit(40000), output_format="png").variants[-1]).convert("L")
    assert abs(picture.getpixel((10, 10)) - 40000 / 257) <= 2


def test_palette_png_with_transparency_keeps_alpha():
    picture = reopen(render(imagegen.palette_png_with_transparency(), output_format="png").variants[-1])
    picture = picture.convert("RGBA")
    assert picture.getpixel((5, 24))[3] == 0
    assert picture.getpixel((58, 24)) == (255, 0, 0, 255)


@pytest.mark.parametrize(
    ("make", "left", "right"),
    [
        (imagegen.greyscale_png, (128, 128, 128, 255), (128, 128, 128, 255)),
        (imagegen.greyscale_alpha_png, (0, 0, 0, 0), (128, 128, 128, 255)),
        (imagegen.one_bit_png, (0, 0, 0, 255), (255, 255, 255, 255)),
    ],
    ids=["L", "LA", "1"],
)
def test_greyscale_inputs_keep_their_tones(make, left, right):
    picture = reopen(render(make(), output_format="png").variants[-1]).convert("RGBA")
    assert picture.getpixel((5, 24))[3] == left[3]
    if left[3]:
        assert close_to(picture.getpixel((5, 24)), left, tolerance=2)
    assert close_to(picture.getpixel((58, 24)), right, tolerance=2)


@pytest.mark.parametrize("make", [imagegen.animated_gif, imagegen.animated_webp], ids=["gif", "webp"])
def test_animation_gives_its_first_frame(make):
    picture = reopen(render(make()).variants[0]).convert("RGB")
    assert close_to(picture.getpixel((5, 5)), (255, 0, 0))


def test_more_frames_than_the_limit_raises_invalid_image():
    with pytest.raises(InvalidImage, match="frames"):
        render(imagegen.animated_gif(), max_frames=2)


# --- broken and oversized inputs ---------------------------------------------------------------------


@pytest.mark.parametrize("make", [imagegen.truncated_jpeg, imagegen.truncated_png], ids=["jpeg", "png"])
def test_truncated_image_raises_invalid_image(make):
    with pytest.raises(InvalidImage):
        render(make())


def test_truncated_image_is_a_permanent_error():
    with pytest.raises(InvalidImage) as caught:
        render(imagegen.truncated_jpeg())
    assert not caught.value.is_transient


def test_bomb_header_raises_too_many_pixels_without_decoding(no_decoding):
    with pytest.raises(TooManyPixels):
        render(imagegen.png_bomb_header(30000, 30000))


def test_more_pixels_than_the_limit_raises_too_many_pixels():
    with pytest.raises(TooManyPixels):
        render(imagegen.solid_jpeg((100, 100)), max_pixels=9_999)


@pytest.mark.parametrize(
    "make", [imagegen.text_named_jpg, imagegen.tiff, imagegen.empty], ids=["text", "tiff", "empty"]
)
def test_render_refuses_what_sniff_refuses(make):
    with pytest.raises(UnsupportedType):
        render(make())


def test_render_accepts_a_stream():
    rendered = render_variants(io.BytesIO(imagegen.solid_jpeg((64, 32))), SMALL_SPECS)
    assert rendered.variants[0].width == 16


# --- corpus ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("storm_1920x1280.jpg", [(160, 107), (480, 320), (1024, 683), (1920, 1280)]),
        ("kay_5120x2880.png", [(160, 90), (480, 270), (1024, 576), (2048, 1152)]),
    ],
)
def test_corpus_photo_renders_every_variant(name, expected):
    rendered = render_variants((CORPUS / name).read_bytes(), SPECS)
    assert [reopen(v).size for v in rendered.variants] == expected


# --- running out of memory ---------------------------------------------------------------------------

MIB = 1024 * 1024


@pytest.fixture
def memory_used(monkeypatch):
    """Pretend the process runs under a 300 MB RLIMIT_DATA, with the given MB in use."""

    def use(megabytes: int) -> None:
        monkeypatch.setattr(errors, "memory_limit", lambda: 300 * MIB)
        monkeypatch.setattr(errors, "data_size", lambda: megabytes * MIB)

    return use


def test_codec_failing_with_less_room_left_than_a_picture_needs_is_too_large_to_process(memory_used):
    memory_used(250)
    refused = pytest.raises(TooLargeToProcess, match="needs more than the 300 MB of memory a job may use")
    with refused, errors.pillow_errors(room_needed=100 * MIB):
        raise OSError("could not create decoder object")


def test_codec_failing_with_room_to_spare_is_an_invalid_image(memory_used):
    memory_used(50)
    refused = pytest.raises(InvalidImage, match="could not create decoder object")
    with refused, errors.pillow_errors(room_needed=100 * MIB):
        raise OSError("could not create decoder object")


def test_encoder_runtime_error_with_room_to_spare_is_not_hidden(memory_used):
    memory_used(50)
    raised = pytest.raises(RuntimeError, match="Failed to encode image")
    with raised, errors.pillow_errors(room_needed=100 * MIB):
        raise RuntimeError("Failed to encode image")


def test_memory_error_is_too_large_to_process_with_or_without_a_limit():
    with pytest.raises(TooLargeToProcess, match="more memory than a job may use"), errors.pillow_errors():
        raise MemoryError


# --- property ----------------------------------------------------------------------------------------

MODES = ["RGB", "RGBA", "L", "LA", "P", "CMYK", "I;16", "1"]
PROPERTY_SPECS = parse_variant_specs("small:300,thumb:64")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(1, 600),
    height=st.integers(1, 600),
    mode=st.sampled_from(MODES),
    output_format=st.sampled_from(["webp", "jpeg", "png"]),
)
def test_any_image_renders_variants_that_fit_and_keep_aspect(width, height, mode, output_format):
    source_format = "JPEG" if mode == "CMYK" else "PNG"
    data = imagegen.encode(imagegen.gradient(mode, (width, height)), source_format)
    rendered = render_variants(data, PROPERTY_SPECS, output_format=output_format)
    for spec, variant in zip(PROPERTY_SPECS, rendered.variants, strict=True):
        assert reopen(variant).size == (variant.width, variant.height)
        assert variant.width <= min(width, spec.max_size) and variant.height <= min(height, spec.max_size)
        assert spec.max_size in (variant.width, variant.height) or (variant.width, variant.height) == (
            width,
            height,
        )
        if width >= height:
            assert abs(variant.height - height * variant.width / width) <= 1
        else:
            assert abs(variant.width - width * variant.height / height) <= 1
