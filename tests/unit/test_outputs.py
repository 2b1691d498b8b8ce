"""Unit tests for the outputs: several formats per variant, cover crops and their gravity, placeholders."""

import base64
import io

import blurhash
import pytest
from PIL import Image, ImageDraw

from app.imaging import parse_output_formats, parse_variant_specs, render_variants
from app.imaging.variants import VariantSpec
from tests import imagegen

GREY = (128, 128, 128)
SQUARE = parse_variant_specs("square:100x100:cover")


def png(image: Image.Image) -> bytes:
    """A lossless upload, so crops can be checked pixel by pixel."""
    return imagegen.encode(image, "PNG")


def scene(size: tuple[int, int], subject: tuple[int, int, int, int]) -> Image.Image:
    """A plain grey picture with a red and blue checkered subject in the given box."""
    picture = Image.new("RGB", size, GREY)
    draw = ImageDraw.Draw(picture)
    left, top, right, bottom = subject
    for x in range(left, right, 8):
        for y in range(top, bottom, 8):
            colour = (220, 20, 20) if (x // 8 + y // 8) % 2 else (20, 20, 220)
            draw.rectangle((x, y, min(x + 7, right - 1), min(y + 7, bottom - 1)), fill=colour)
    return picture


def subject_pixels(picture: Image.Image) -> int:
    """How many pixels are clearly not the grey background."""
    return sum(1 for pixel in picture.convert("RGB").get_flattened_data() if max(abs(c - 128) for c in pixel) > 60)


def is_cut(picture: Image.Image) -> bool:
    """Whether the subject touches the picture's edge (so part of it was cropped away)."""
    width, height = picture.size
    edges = [picture.crop(box) for box in ((0, 0, 2, height), (width - 2, 0, width, height))]
    edges += [picture.crop(box) for box in ((0, 0, width, 2), (0, height - 2, width, height))]
    return any(subject_pixels(edge) for edge in edges)


def decoded(data: bytes) -> Image.Image:
    """Open and load encoded bytes."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- specs and formats --------------------------------------------------------------------------------


def test_cover_spec_is_parsed_beside_fit_specs():
    specs = parse_variant_specs("thumb:160,avatar:96x64:cover")
    assert specs == (VariantSpec("thumb", 160), VariantSpec("avatar", 96, "cover", (96, 64)))


@pytest.mark.parametrize("text", ["a:96:cover", "a:96x96:fill", "a:0x5:cover", "a:96x:cover", "a:96x96:cover:x"])
def test_bad_cover_spec_is_refused_with_the_rule(text):
    with pytest.raises(ValueError, match="variant"):
        parse_variant_specs(text)


def test_output_formats_parse_in_order():
    assert parse_output_formats(" AVIF, webp ") == ("avif", "webp")


@pytest.mark.parametrize("text", ["", "avif,gif", "webp,webp"])
def test_bad_output_formats_are_refused(text):
    with pytest.raises(ValueError):
        parse_output_formats(text)


def test_every_variant_is_stored_in_each_format_in_order():
    rendered = render_variants(imagegen.noisy_jpeg((300, 200)), parse_variant_specs("a:160,b:64"), ["avif", "webp"])
    for variant in rendered.variants:
        assert [file.format for file in variant.files] == ["avif", "webp"]
        assert [decoded(file.data).format for file in variant.files] == ["AVIF", "WEBP"]
        assert [decoded(file.data).size for file in variant.files] == [(variant.width, variant.height)] * 2
        assert (variant.format, variant.content_type, variant.data) == ("avif", "image/avif", variant.files[0].data)


def test_avif_keeps_the_colours():
    variant = render_variants(imagegen.solid_jpeg((64, 64)), parse_variant_specs("a:32"), ["avif"]).variants[0]
    red, green, blue = decoded(variant.data).convert("RGB").getpixel((16, 16))
    assert abs(red - 200) < 12 and abs(green - 120) < 12 and abs(blue - 40) < 12


def test_animated_variant_is_stored_only_in_formats_that_animate():
    rendered = render_variants(imagegen.animated_gif(), parse_variant_specs("a:16"), ["avif", "webp"])
    variant = rendered.variants[0]
    assert variant.animated and [file.format for file in variant.files] == ["webp"]
    assert decoded(variant.data).n_frames == 3


# --- cover crops --------------------------------------------------------------------------------------


def test_smart_cover_keeps_an_off_centre_subject_inside_the_crop():
    source = png(scene((400, 200), (320, 80, 360, 120)))
    smart = render_variants(source, SQUARE, "png").variants[0]
    centre = render_variants(source, SQUARE, "png", gravity="center").variants[0]
    assert (smart.width, smart.height) == (100, 100)
    # The 40 x 40 subject, halved: whole in the smart crop (clear of its edges), absent from the centre one.
    assert subject_pixels(decoded(smart.data)) >= 18 * 18 and not is_cut(decoded(smart.data))
    assert subject_pixels(decoded(centre.data)) == 0


def test_smart_cover_keeps_an_off_centre_subject_of_a_portrait_picture():
    source = png(scene((150, 450), (50, 20, 100, 70)))
    variant = render_variants(source, parse_variant_specs("card:150x150:cover"), "png").variants[0]
    assert subject_pixels(decoded(variant.data)) >= 48 * 48 and not is_cut(decoded(variant.data))


def test_smart_cover_of_a_centred_subject_is_the_centre_crop():
    source = png(scene((400, 200), (180, 80, 220, 120)))
    smart = render_variants(source, SQUARE, "png").variants[0]
    centre = render_variants(source, SQUARE, "png", gravity="center").variants[0]
    assert decoded(smart.data).tobytes() == decoded(centre.data).tobytes()
    assert subject_pixels(decoded(smart.data)) >= 18 * 18 and not is_cut(decoded(smart.data))


def test_cover_crop_is_never_upscaled():
    picture = imagegen.quadrants((60, 40))
    variant = render_variants(png(picture), SQUARE, "png", gravity="center").variants[0]
    assert (variant.width, variant.height) == (40, 40)
    assert decoded(variant.data).convert("RGB").tobytes() == picture.convert("RGB").crop((10, 0, 50, 40)).tobytes()


def test_cover_crop_beside_fit_variants_keeps_both_geometries():
    specs = parse_variant_specs("large:200,avatar:50x50:cover,thumb:40")
    rendered = render_variants(imagegen.noisy_jpeg((400, 200)), specs)
    sizes = [(variant.name, variant.width, variant.height, variant.mode) for variant in rendered.variants]
    assert sizes == [("large", 200, 100, "fit"), ("avatar", 50, 50, "cover"), ("thumb", 40, 20, "fit")]


def test_cover_crop_of_an_animation_crops_every_frame():
    source = imagegen.animated_gif(size=(64, 32))
    variant = render_variants(source, parse_variant_specs("avatar:16x16:cover"), "webp").variants[0]
    animation = decoded(variant.data)
    assert variant.animated and animation.size == (16, 16) and animation.n_frames == 3


# --- placeholders -------------------------------------------------------------------------------------


def test_placeholder_has_the_colour_a_blurhash_and_a_tiny_webp():
    placeholder = render_variants(imagegen.solid_jpeg((300, 200)), parse_variant_specs("a:160")).placeholder
    red, green, blue = (int(placeholder.color[i : i + 2], 16) for i in (1, 3, 5))
    assert abs(red - 200) < 6 and abs(green - 120) < 6 and abs(blue - 40) < 6
    assert len(placeholder.blurhash) == 28  # 4 x 3 components
    hashed = blurhash.decode(placeholder.blurhash, 4, 4)
    assert all(abs(a - b) < 8 for a, b in zip(hashed[2][2], (200, 120, 40), strict=True))
    prefix, _, payload = placeholder.data_uri.partition(",")
    tiny = base64.b64decode(payload)
    assert prefix == "data:image/webp;base64" and len(tiny) <= 1024
    assert decoded(tiny).format == "WEBP" and max(decoded(tiny).size) <= 32


def test_placeholder_of_a_portrait_picture_uses_3_by_4_components():
    placeholder = render_variants(imagegen.noisy_jpeg((100, 300)), parse_variant_specs("a:160")).placeholder
    assert blurhash.components(placeholder.blurhash) == (3, 4)


def test_placeholder_of_an_animation_comes_from_its_first_frame():
    placeholder = render_variants(imagegen.animated_gif(), parse_variant_specs("a:16")).placeholder
    assert placeholder.color == "#fe0000" or int(placeholder.color[1:3], 16) > 240
