"""Edge-case images generated in memory for tests: each public function returns the file's bytes."""

import io
import struct
import zipfile
import zlib

from PIL import Image, ImageCms

# EXIF tags and the transpose that makes stored pixels upright, per orientation.
ORIENTATION_TAG = 0x0112
GPS_IFD_TAG = 0x8825
_TO_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# The inverse of each transpose above: what to apply to an upright picture to get the stored one.
_FROM_UPRIGHT = {
    **_TO_UPRIGHT,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}
QUADRANT_COLOURS = {"top_left": (255, 0, 0), "top_right": (0, 255, 0), "bottom_left": (0, 0, 255)}
BOTTOM_RIGHT = (255, 255, 255)


def encode(image: Image.Image, format: str, **options) -> bytes:
    """Save an image to bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def gradient(mode: str, size: tuple[int, int]) -> Image.Image:
    """A smooth picture of the given size in any mode, cheap to make and to compress."""
    grey = Image.linear_gradient("L").resize(size)
    if mode in ("I;16", "I"):
        return grey.convert("I").point(lambda value: value * 257).convert(mode)
    if mode in ("LA", "RGBA"):
        picture = grey.convert(mode[:-1])
        picture.putalpha(Image.linear_gradient("L").rotate(90).resize(size))
        return picture
    if mode == "P":
        return Image.merge("RGB", (grey, grey.rotate(90), grey)).convert("P")
    return grey.convert(mode)


def quadrants(size: tuple[int, int] = (96, 64)) -> Image.Image:
    """An asymmetric picture: red top-left, green top-right, blue bottom-left, white bottom-right."""
    width, height = size
    picture = Image.new("RGB", size, BOTTOM_RIGHT)
    picture.paste(QUADRANT_COLOURS["top_left"], (0, 0, width // 2, height // 2))
    picture.paste(QUADRANT_COLOURS["top_right"], (width // 2, 0, width, height // 2))
    picture.paste(QUADRANT_COLOURS["bottom_left"], (0, height // 2, width // 2, height))
    return picture


def oriented_jpeg(orientation: int, size: tuple[int, int] = (96, 64)) -> bytes:
    """A JPEG whose pixels, once its EXIF orientation is applied, show quadrants() of size."""
    upright = quadrants(size)
    stored = upright.transpose(_FROM_UPRIGHT[orientation]) if orientation in _FROM_UPRIGHT else upright
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return encode(stored, "JPEG", quality=95, exif=exif)


def solid_jpeg(size: tuple[int, int], colour=(200, 120, 40)) -> bytes:
    """A plain RGB JPEG."""
    return encode(Image.new("RGB", size, colour), "JPEG")


def noisy_jpeg(size: tuple[int, int] = (256, 256), progressive: bool = False) -> bytes:
    """A JPEG of noise, so every byte of the scan data matters."""
    picture = Image.merge("RGB", [Image.effect_noise(size, 64) for _ in range(3)])
    return encode(picture, "JPEG", quality=90, progressive=progressive)


def cmyk_jpeg(colour=(0, 255, 255, 0), size: tuple[int, int] = (64, 64)) -> bytes:
    """A CMYK JPEG (Adobe-style, stored inverted); the default colour is pure red."""
    return encode(Image.new("CMYK", size, colour), "JPEG", quality=95)


def png_16bit(value: int = 40000, size: tuple[int, int] = (64, 48)) -> bytes:
    """A 16-bit greyscale PNG (Pillow mode I;16) of one value out of 65535."""
    return encode(Image.new("I;16", size, value), "PNG")


def palette_png_with_transparency(size: tuple[int, int] = (64, 48)) -> bytes:
    """A palette PNG: transparent left half, opaque red right half."""
    picture = Image.new("P", size, 0)
    picture.putpalette([0, 0, 0, 255, 0, 0])
    picture.paste(1, (size[0] // 2, 0, size[0], size[1]))
    return encode(picture, "PNG", transparency=0)


def greyscale_png(value: int = 128, size: tuple[int, int] = (64, 48)) -> bytes:
    """A greyscale (L) PNG."""
    return encode(Image.new("L", size, value), "PNG")


def greyscale_alpha_png(size: tuple[int, int] = (64, 48)) -> bytes:
    """A greyscale-with-alpha (LA) PNG: transparent left half, opaque grey right half."""
    picture = Image.new("LA", size, (0, 0))
    picture.paste((128, 255), (size[0] // 2, 0, size[0], size[1]))
    return encode(picture, "PNG")


def one_bit_png(size: tuple[int, int] = (64, 48)) -> bytes:
    """A 1-bit PNG: black left half, white right half."""
    picture = Image.new("1", size, 0)
    picture.paste(1, (size[0] // 2, 0, size[0], size[1]))
    return encode(picture, "PNG")


def rgba_png(size: tuple[int, int] = (64, 48)) -> bytes:
    """An RGBA PNG: fully transparent left half, opaque blue right half."""
    picture = Image.new("RGBA", size, (0, 0, 0, 0))
    picture.paste((0, 0, 255, 255), (size[0] // 2, 0, size[0], size[1]))
    return encode(picture, "PNG")


def rgba_webp(size: tuple[int, int] = (64, 48)) -> bytes:
    """A lossless RGBA WebP laid out like rgba_png()."""
    return encode(Image.open(io.BytesIO(rgba_png(size))), "WEBP", lossless=True)


def _frames(colours, size: tuple[int, int]) -> list[Image.Image]:
    """Solid frames, one per colour."""
    return [Image.new("RGB", size, colour) for colour in colours]


def animated_gif(colours=((255, 0, 0), (0, 255, 0), (0, 0, 255)), size=(32, 32)) -> bytes:
    """An animated GIF whose first frame is the first colour."""
    first, *rest = _frames(colours, size)
    return encode(first, "GIF", save_all=True, append_images=rest, duration=100, loop=0)


def animated_webp(colours=((255, 0, 0), (0, 255, 0), (0, 0, 255)), size=(32, 32)) -> bytes:
    """An animated WebP whose first frame is the first colour."""
    first, *rest = _frames(colours, size)
    return encode(first, "WEBP", save_all=True, append_images=rest, duration=100, lossless=True)


def jpeg_with_metadata(size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG carrying GPS EXIF, XMP, a comment and an sRGB ICC profile."""
    exif = Image.Exif()
    exif[0x010F] = "PixlineCam"  # Make
    exif[GPS_IFD_TAG] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    picture = Image.new("RGB", size, (30, 60, 90))
    return encode(picture, "JPEG", exif=exif, xmp=xmp, comment="secret location", icc_profile=icc)


def jpeg_with_icc(icc_profile: bytes, colour=(200, 30, 30), size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG tagged with the given ICC profile bytes, valid or not."""
    return encode(Image.new("RGB", size, colour), "JPEG", quality=95, icc_profile=icc_profile)


def truncated_jpeg() -> bytes:
    """A JPEG cut off in the middle of its scan data."""
    whole = noisy_jpeg()
    return whole[: len(whole) * 6 // 10]


def truncated_png() -> bytes:
    """A PNG cut off in the middle of its pixel data."""
    picture = Image.merge("RGB", [Image.effect_noise((256, 256), 64) for _ in range(3)])
    whole = encode(picture, "PNG")
    return whole[: len(whole) * 6 // 10]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk with its length and CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb_header(width: int = 30000, height: int = 30000) -> bytes:
    """A PNG of a few KB whose header claims width x height greyscale pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 100, 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b"")


def text_named_jpg() -> bytes:
    """Plain text, as someone might upload it renamed to .jpg."""
    return b"This is not an image, whatever its name says.\n" * 20


def svg() -> bytes:
    """An SVG with a script, the classic stored-XSS vehicle."""
    return (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>alert(1)</script><rect width='10' height='10'/></svg>"
    )


def html() -> bytes:
    """An HTML page."""
    return b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def pdf() -> bytes:
    """A minimal PDF."""
    return b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def zip_archive() -> bytes:
    """A ZIP archive holding one text file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.txt", "hello")
    return buffer.getvalue()


def jpeg_zip_polyglot() -> bytes:
    """A valid JPEG with a ZIP archive appended: both a picture and an archive."""
    return solid_jpeg((32, 32)) + zip_archive()


def tiff() -> bytes:
    """A valid TIFF, a format Pixline refuses."""
    return encode(Image.new("RGB", (16, 16), "red"), "TIFF")


def bmp() -> bytes:
    """A valid BMP, a format Pixline refuses."""
    return encode(Image.new("RGB", (16, 16), "red"), "BMP")


def ico() -> bytes:
    """A valid ICO, a format Pixline refuses."""
    return encode(Image.new("RGB", (16, 16), "red"), "ICO")


def psd() -> bytes:
    """The header of a Photoshop file (8BPS), enough for Pillow's PSD plugin to recognise."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 16, 16, 8, 3)
    return header + struct.pack(">I", 0) * 3 + struct.pack(">H", 0) + b"\x00" * 16 * 16 * 3


def empty() -> bytes:
    """Zero bytes."""
    return b""
