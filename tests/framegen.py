"""Animations whose frames do not keep the header's promise, written by hand: each public function returns the bytes.

Pillow's writers never put a frame outside the canvas, so these are built chunk by chunk. Frames are solid, so their
pixel data stays a few bytes per thousands of pixels: a GIF can claim 9000x9000 frames in 2 kB.
"""

import struct
import zlib

from tests.imagegen import _png_chunk, encode

# GIF palette: black, red, green, blue (indices 0-3).
GIF_PALETTE = ((0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255))


def gif(screen: tuple[int, int], frames: list[tuple[int, int, int, int, int]], delay: int = 10) -> bytes:
    """A looping GIF of this logical screen; each frame (left, top, width, height, palette index) a solid rectangle."""
    header = b"GIF89a" + struct.pack("<HHBBB", *screen, 0x81, 0, 0) + bytes(c for rgb in GIF_PALETTE for c in rgb)
    loop = b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    body = b"".join(_gif_frame(*frame, delay) for frame in frames)
    return header + loop + body + b";"


def growing_gif(
    frames: int = 100, screen: tuple[int, int] = (100, 100), reach: tuple[int, int] = (9000, 9000)
) -> bytes:
    """Issue 22's GIF: a small screen and first frame, then 1x1 frames at the far corner of reach.

    Pillow's reader grows its canvas to reach for each of them and composites every later frame on it.
    """
    corner = (reach[0] - 1, reach[1] - 1, 1, 1, 1)
    return gif(screen, [(0, 0, *screen, 2)] + [corner] * (frames - 1))


def _gif_frame(left: int, top: int, width: int, height: int, index: int, delay: int) -> bytes:
    """A graphic control extension (delay, no disposal) and one solid image of a palette index."""
    control = b"!\xf9\x04" + struct.pack("<BHB", 0, delay, 0) + b"\x00"
    descriptor = b"," + struct.pack("<HHHHB", left, top, width, height, 0)
    data = _lzw_solid(index, width * height)
    return control + descriptor + b"\x02" + b"".join(_sub_blocks(data)) + b"\x00"


def _lzw_solid(index: int, count: int, min_code_size: int = 2) -> bytes:
    """GIF's LZW for count copies of one index, without building the table: a run of n is the code added n-1 ago.

    The encoder emits runs of 1, 2, 3, ... pixels, each adding the run one longer, until the table is full (4096
    codes); then it repeats the longest run (a "deferred clear", which every decoder reads).
    """
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    width, next_code, longest = min_code_size + 1, end + 1, 1
    codes = [(clear, width)]
    while count:
        run = min(longest, count)
        codes.append((index if run == 1 else end + run - 1, width))
        count -= run
        if run == longest and count and next_code < 4096:
            next_code, longest = next_code + 1, longest + 1
            if next_code > (1 << width) and width < 12:
                width += 1
    codes.append((end, width))
    return _pack(codes)


def _pack(codes: list[tuple[int, int]]) -> bytes:
    """Variable-width codes, least significant bit first."""
    bits = count = 0
    out = bytearray()
    for code, width in codes:
        bits |= code << count
        count += width
        while count >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            count -= 8
    if count:
        out.append(bits & 0xFF)
    return bytes(out)


def _sub_blocks(data: bytes) -> list[bytes]:
    """GIF data sub-blocks of at most 255 bytes."""
    return [bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255)]


def apng(canvas: tuple[int, int], frames: list[tuple[int, int, int, int]]) -> bytes:
    """A greyscale APNG of this canvas; each frame (left, top, width, height) a black rectangle, wherever it lies."""
    header = struct.pack(">IIBBBBB", *canvas, 8, 0, 0, 0, 0)
    chunks = [_png_chunk(b"IHDR", header), _png_chunk(b"acTL", struct.pack(">II", len(frames), 0))]
    sequence = 0
    for number, (left, top, width, height) in enumerate(frames):
        control = struct.pack(">IIIIIHHBB", sequence, width, height, left, top, 1, 10, 0, 0)
        chunks.append(_png_chunk(b"fcTL", control))
        rows = zlib.compress(b"\x00" * (width + 1) * height, 9)
        if number == 0:
            chunks.append(_png_chunk(b"IDAT", rows))
            sequence += 1
        else:
            chunks.append(_png_chunk(b"fdAT", struct.pack(">I", sequence + 1) + rows))
            sequence += 2
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks) + _png_chunk(b"IEND", b"")


def animated_webp(canvas: tuple[int, int], frames: list[tuple[int, int, int, int]]) -> bytes:
    """An animated WebP of this canvas (VP8X); each frame (left, top, width, height) a lossless black rectangle."""
    flags = 0x02  # animation
    chunks = [
        _riff_chunk(b"VP8X", struct.pack("<B3x", flags) + _u24(canvas[0] - 1) + _u24(canvas[1] - 1)),
        _riff_chunk(b"ANIM", struct.pack("<IH", 0, 0)),
    ]
    for left, top, width, height in frames:
        placement = _u24(left // 2) + _u24(top // 2) + _u24(width - 1) + _u24(height - 1) + _u24(100) + b"\x00"
        chunks.append(_riff_chunk(b"ANMF", placement + _vp8l_chunk((width, height))))
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _vp8l_chunk(size: tuple[int, int]) -> bytes:
    """A lossless WebP bitstream of a black picture this size, as a whole VP8L chunk (from Pillow's writer)."""
    from PIL import Image

    still = encode(Image.new("RGB", size), "WEBP", lossless=True)
    offset = still.index(b"VP8L")
    (length,) = struct.unpack("<I", still[offset + 4 : offset + 8])
    return still[offset : offset + 8 + length + (length & 1)]


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    """One RIFF chunk, padded to an even length."""
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def _u24(value: int) -> bytes:
    """A 24-bit little-endian integer."""
    return value.to_bytes(3, "little")
