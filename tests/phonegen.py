"""Photos as phones and cameras make them, generated in memory: each public function returns the file's bytes.

Animations are made so that a frame shows the right picture only if the reader composites it correctly: a frame
stored as a small rectangle over what the previous frame's disposal (or blending) left behind.
"""

import io
import struct

from PIL import Image

from tests.imagegen import _FROM_UPRIGHT, ORIENTATION_TAG, encode, quadrants

# A Display P3 colour and the sRGB colour it is (CSS Color 4: sRGB red is display-p3 0.9175 0.2003 0.1386).
P3_RED_IN_P3 = (234, 51, 35)
P3_RED_IN_SRGB = (255, 0, 0)
# Display P3's primaries and white point as its ICC profile states them (D50-adapted XYZ).
_P3_PRIMARIES = ((0.515102, 0.241182, -0.001049), (0.291965, 0.692236, 0.041882), (0.157153, 0.066582, 0.784378))
_D50 = (0.964203, 1.0, 0.824905)
BLUE, RED, GREEN, WHITE = (0, 0, 255, 255), (255, 0, 0, 255), (0, 255, 0, 255), (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)


def _exif(orientation: int) -> bytes:
    """An EXIF block that holds only an orientation."""
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return exif.tobytes()


def _stored(orientation: int, size: tuple[int, int]) -> Image.Image:
    """The pixels a camera stores so that, with this orientation applied, they show quadrants(size)."""
    upright = quadrants(size)
    return upright.transpose(_FROM_UPRIGHT[orientation]) if orientation in _FROM_UPRIGHT else upright


def mpo(orientation: int = 1, size: tuple[int, int] = (96, 64)) -> bytes:
    """A multi-picture JPEG (as cameras and Ultra HDR photos are): quadrants first, then a black second picture."""
    second = Image.new("RGB", size, (0, 0, 0))
    return encode(_stored(orientation, size), "MPO", save_all=True, append_images=[second], exif=_exif(orientation))


def _heif_plugin():
    """pillow-heif, registered (only the tests write HEIC; the app only reads it)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    return pillow_heif


def heic(orientation: int | None = None, size: tuple[int, int] = (96, 64)) -> bytes:
    """A HEIC of quadrants(size); with an orientation, stored turned and tagged as a phone does (irot + EXIF)."""
    _heif_plugin()
    if orientation is None:
        return encode(quadrants(size), "HEIF", quality=95)
    return encode(_stored(orientation, size), "HEIF", quality=95, exif=_exif(orientation))


def heic_display_p3(size: tuple[int, int] = (64, 48)) -> bytes:
    """A HEIC tagged Display P3, filled with the P3 colour that is sRGB red."""
    _heif_plugin()
    picture = Image.new("RGB", size, P3_RED_IN_P3)
    return encode(picture, "HEIF", quality=95, chroma=444, icc_profile=display_p3_profile())


def heic_10bit(colour16=(40000, 20000, 10000), size: tuple[int, int] = (64, 48)) -> bytes:
    """A 10-bit HEIC of one 16-bit colour (as iPhones shoot HDR photos)."""
    pillow_heif = _heif_plugin()
    pixel = struct.pack("<3H", *colour16)
    heif = pillow_heif.from_bytes(mode="RGB;16", size=size, data=pixel * (size[0] * size[1]))
    buffer = io.BytesIO()
    heif.save(buffer, quality=95, chroma=444)
    return buffer.getvalue()


def heic_with_extras(size: tuple[int, int] = (96, 64)) -> bytes:
    """A HEIC whose primary picture, quadrants(size), comes after a black one, with thumbnails (as phones write)."""
    pillow_heif = _heif_plugin()
    heif = pillow_heif.from_pillow(Image.new("RGB", size, (0, 0, 0)))
    heif.add_from_pillow(quadrants(size))
    heif[0].info["primary"], heif[1].info["primary"] = False, True
    buffer = io.BytesIO()
    heif.save(buffer, quality=95, thumbnails=[32])
    return buffer.getvalue()


def avif(orientation: int = 1, size: tuple[int, int] = (96, 64)) -> bytes:
    """An AVIF of quadrants(size), stored turned and tagged with the orientation."""
    return encode(_stored(orientation, size), "AVIF", quality=95, exif=_exif(orientation))


def greyscale_jpeg_with_icc(value: int = 128, size: tuple[int, int] = (64, 48)) -> bytes:
    """A greyscale JPEG tagged with a linear (gamma 1.0) grey profile: its 128 is sRGB's 188."""
    return encode(Image.new("L", size, value), "JPEG", quality=95, icc_profile=linear_grey_profile())


def _canvas(size, fill) -> Image.Image:
    return Image.new("RGBA", size, fill)


def gif_with_disposals(size: tuple[int, int] = (32, 32)) -> bytes:
    """Four GIF frames, the last three small rectangles; the last two are right only if disposals are honoured.

    0: all blue, kept · 1: red top-left quarter, disposal 3 (restore previous) · 2: green bottom-right quarter,
    disposal 2 (restore background, i.e. clear) · 3: white top-right quarter. Composited, frame 2 has no red left
    and frame 3's bottom-right is transparent. Written by hand: Pillow's GIF writer picks its own rectangles.
    """
    w, h = size
    palette = [(0, 0, 0), BLUE[:3], RED[:3], GREEN[:3], WHITE[:3], (0, 0, 0), (0, 0, 0), (0, 0, 0)]
    # (left, top, width, height, colour index, disposal, delay in 1/100 s)
    frames = [
        (0, 0, w, h, 1, 1, 10),
        (0, 0, w // 2, h // 2, 2, 3, 20),
        (w // 2, h // 2, w // 2, h // 2, 3, 2, 30),
        (w // 2, 0, w // 2, h // 2, 4, 1, 40),
    ]
    data = b"GIF89a" + struct.pack("<HHBBB", w, h, 0xF2, 0, 0) + bytes(c for rgb in palette for c in rgb)
    data += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
    for left, top, width, height, index, disposal, delay in frames:
        # Graphic control: disposal, delay, and index 0 transparent.
        data += b"\x21\xf9\x04" + bytes([disposal << 2 | 1]) + struct.pack("<H", delay) + b"\x00\x00"
        data += b"\x2c" + struct.pack("<HHHHB", left, top, width, height, 0)
        data += b"\x03" + _sub_blocks(_lzw([index] * (width * height), 3)) + b"\x00"
    return data + b"\x3b"


def _lzw(indices: list[int], min_code_size: int) -> bytes:
    """GIF's variable-width LZW compression of palette indices."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    table = {(i,): i for i in range(clear)}
    width, next_code, bits, count, out = min_code_size + 1, end + 1, 0, 0, bytearray()

    def emit(code: int) -> None:
        nonlocal bits, count
        bits |= code << count
        count += width
        while count >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            count -= 8

    emit(clear)
    run: tuple[int, ...] = ()
    for index in indices:
        if run + (index,) in table:
            run += (index,)
            continue
        emit(table[run])
        if next_code < 4096:
            table[run + (index,)] = next_code
            next_code += 1
            if next_code > (1 << width) and width < 12:
                width += 1
        run = (index,)
    emit(table[run])
    emit(end)
    if count:
        out.append(bits & 0xFF)
    return bytes(out)


def _sub_blocks(data: bytes) -> bytes:
    """GIF data sub-blocks of at most 255 bytes."""
    return b"".join(bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255))


def animated_webp(size: tuple[int, int] = (32, 32)) -> bytes:
    """Three lossless WebP frames with different durations, the last white on its left half; plays three times."""
    frames = [_canvas(size, RED), _canvas(size, GREEN), _canvas(size, BLUE)]
    frames[2].paste(WHITE, (0, 0, size[0] // 2, size[1]))
    first, *rest = frames
    return encode(first, "WEBP", save_all=True, append_images=rest, duration=[80, 160, 240], loop=3, lossless=True)


def apng(size: tuple[int, int] = (32, 32)) -> bytes:
    """Three APNG frames: blue; a half-transparent red square blended over it; then back to blue with white.

    Frame 1's top-left is purple only if its blend op (over) is honoured; frame 2's top-left is blue only if
    frame 1's dispose op (previous) is.
    """
    w, h = size
    frames = [_canvas(size, BLUE) for _ in range(3)]
    frames[1].paste((255, 0, 0, 128), (0, 0, w // 2, h // 2))
    frames[2].paste(WHITE, (w // 2, h // 2, w, h))
    first, *rest = frames
    return encode(
        first,
        "PNG",
        save_all=True,
        append_images=rest,
        duration=[100, 150, 200],
        disposal=[0, 2, 0],
        blend=[0, 1, 0],
        loop=0,
    )


def animated_gif(frames: int, size: tuple[int, int]) -> bytes:
    """A GIF of many frames, each a moving bar over a gradient, so every frame differs."""
    background = Image.linear_gradient("L").resize(size).convert("RGB")
    pictures = []
    for index in range(frames):
        frame = background.copy()
        x = index * size[0] // frames
        frame.paste((255, 0, 0), (x, 0, x + max(2, size[0] // 50), size[1]))
        pictures.append(frame.convert("P", palette=Image.Palette.ADAPTIVE, colors=64))
    first, *rest = pictures
    return encode(first, "GIF", save_all=True, append_images=rest, duration=40, loop=0)


# --- ICC profiles, written out by hand (LittleCMS reads them; Pillow can only make sRGB, Lab and XYZ ones) ----------


def _s15(value: float) -> bytes:
    """An ICC s15Fixed16Number."""
    return struct.pack(">i", round(value * 65536))


def _xyz_tag(xyz) -> bytes:
    return b"XYZ " + b"\0" * 4 + b"".join(_s15(v) for v in xyz)


def _curve_tag(gamma: float | None) -> bytes:
    """A curv tag: a pure gamma, or (None) the sRGB curve as a 1024-entry table."""
    if gamma is not None:
        return b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    table = []
    for i in range(1024):
        v = i / 1023
        table.append(v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4)
    return b"curv" + b"\0" * 4 + struct.pack(">I", 1024) + b"".join(struct.pack(">H", round(t * 65535)) for t in table)


def _text_tag(text: str) -> bytes:
    ascii_text = text.encode() + b"\0"
    return b"desc" + b"\0" * 4 + struct.pack(">I", len(ascii_text)) + ascii_text + b"\0" * 12 + b"\0" * 67


def _profile(colour_space: bytes, tags: dict[bytes, bytes]) -> bytes:
    """An ICC v2 display profile with these tags."""
    table, body = b"", b""
    offset = 128 + 4 + 12 * len(tags)
    for signature, data in tags.items():
        data += b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = struct.pack(">I4sI4s4s4s", size, b"lcms", 0x02100000, b"mntr", colour_space, b"XYZ ")
    header += b"\0" * 12 + b"acsp" + b"\0" * 24 + _s15(_D50[0]) + _s15(_D50[1]) + _s15(_D50[2])
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + body


def display_p3_profile() -> bytes:
    """A Display P3 profile: P3 primaries, D65 white (adapted to D50), the sRGB tone curve."""
    curve = _curve_tag(None)
    red, green, blue = (_xyz_tag(p) for p in _P3_PRIMARIES)
    tags = {b"desc": _text_tag("Display P3 (test)"), b"wtpt": _xyz_tag(_D50)}
    tags |= {b"rXYZ": red, b"gXYZ": green, b"bXYZ": blue, b"rTRC": curve, b"gTRC": curve, b"bTRC": curve}
    return _profile(b"RGB ", tags)


def linear_grey_profile() -> bytes:
    """A greyscale profile with a linear tone curve (gamma 1.0)."""
    return _profile(
        b"GRAY", {b"desc": _text_tag("Linear grey (test)"), b"wtpt": _xyz_tag(_D50), b"kTRC": _curve_tag(1.0)}
    )
