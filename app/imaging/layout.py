"""Where every frame of a GIF, APNG or WebP lies, read from the bytes before any decoder sees them.

A header's size is a promise the rest of the file need not keep. Pillow's GIF reader grows its canvas to hold any
later frame that reaches past the logical screen (Pillow 13: checking only its own ~89 MP bomb limit), so a 2 kB GIF
whose header says 100x100 can make it composite 9000x9000 frames. APNG (fcTL) and WebP (ANMF) frames must lie
inside the canvas: their decoders refuse one that does not, but only when they reach it. So each frame descriptor
is read here, skipping the pixel data: the canvas a decoder will really work on (`extent`) is known before one pixel
is decoded, and checked against the limits. JPEG (MPO), HEIF and AVIF are decoded as stills, from the primary
picture (or first frame) whose size the header gives, so they have no layout.
"""

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from app.imaging.errors import InvalidImage, TooManyFrames, TooManyPixels


@dataclass(frozen=True)
class Frame:
    """One frame's rectangle on the canvas."""

    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        """The first column past the frame."""
        return self.left + self.width

    @property
    def bottom(self) -> int:
        """The first row past the frame."""
        return self.top + self.height

    def __str__(self) -> str:
        return f"{self.width}x{self.height} at ({self.left}, {self.top})"


@dataclass(frozen=True)
class Layout:
    """The canvas a file declares, the canvas its frames need, and how many frames it holds."""

    format: str
    canvas: tuple[int, int]
    extent: tuple[int, int]
    frames: int
    # The first frame that reaches past the declared canvas (index, frame), if any.
    outgrowing: tuple[int, Frame] | None = None

    @property
    def extent_pixels(self) -> int:
        """Pixels in the canvas the decoder composites every frame on."""
        return self.extent[0] * self.extent[1]


def read_layout(source: BinaryIO, max_frames: int | None = None) -> Layout | None:
    """The layout of a GIF, PNG or WebP (None for other files); stops counting once past max_frames."""
    source.seek(0)
    head = source.read(16)
    source.seek(0)
    reader = _reader_for(head)
    try:
        # A file whose structure is not what its signature promises is left for its decoder to refuse.
        found = reader(source) if reader is not None else None
        return _summarize(*found, max_frames) if found is not None else None
    finally:
        source.seek(0)


def check_layout(layout: Layout | None, max_pixels: int) -> None:
    """Refuse frames that lie outside a canvas that cannot grow, or a canvas grown past the pixel limit."""
    if layout is None:
        return
    if layout.outgrowing is not None and layout.format != "GIF":
        index, frame = layout.outgrowing
        canvas = f"{layout.canvas[0]}x{layout.canvas[1]}"
        raise InvalidImage(f"Frame {index + 1} of the {layout.format} ({frame}) lies outside its {canvas} canvas.")
    if layout.extent_pixels > max_pixels:
        raise TooManyPixels(_too_large_message(layout, max_pixels))


def _too_large_message(layout: Layout, max_pixels: int) -> str:
    """Why the canvas is too large: its declared size, or the frame that grows it."""
    width, height = layout.extent
    limit = f"more than the limit of {max_pixels:,} pixels"
    if layout.outgrowing is None:
        return f"The image is {width}x{height}, {limit}."
    index, frame = layout.outgrowing
    canvas = f"{layout.canvas[0]}x{layout.canvas[1]}"
    return f"Frame {index + 1} of the {layout.format} ({frame}) grows its {canvas} canvas to {width}x{height}, {limit}."


def _summarize(name: str, canvas: tuple[int, int], frames: Iterator[Frame], max_frames: int | None) -> Layout:
    """Fold the frames into the extent and the count, refusing more than max_frames as soon as it is passed."""
    right, bottom, count, outgrowing = canvas[0], canvas[1], 0, None
    for frame in frames:
        count += 1
        if max_frames is not None and count > max_frames:
            raise TooManyFrames(f"The image has more than {max_frames} frames, the limit.")
        if outgrowing is None and (frame.right > canvas[0] or frame.bottom > canvas[1]):
            outgrowing = (count - 1, frame)
        right, bottom = max(right, frame.right), max(bottom, frame.bottom)
    return Layout(name, canvas, (right, bottom), max(count, 1), outgrowing)


def _reader_for(head: bytes):
    """The frame reader for a file starting with these bytes, or None."""
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return _gif
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return _png
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _webp
    return None


# --- GIF: the logical screen, then an image descriptor per frame -------------------------------------------------


def _gif(source: BinaryIO) -> tuple[str, tuple[int, int], Iterator[Frame]] | None:
    """The logical screen's size and every image descriptor, as Pillow's reader walks them."""
    screen = source.read(13)
    if len(screen) < 13:
        return None
    width, height, flags = struct.unpack("<HHB", screen[6:11])
    if flags & 0x80:
        source.seek(3 << ((flags & 7) + 1), 1)
    return "GIF", (width, height), _gif_frames(source)


def _gif_frames(source: BinaryIO) -> Iterator[Frame]:
    """Each image descriptor's rectangle, skipping extensions and pixel data (and, as Pillow does, unknown bytes)."""
    while (marker := source.read(1)) and marker != b";":
        if marker == b"!":
            source.read(1)
            _skip_sub_blocks(source)
        elif marker == b",":
            descriptor = source.read(9)
            if len(descriptor) < 9:
                return
            left, top, width, height, flags = struct.unpack("<HHHHB", descriptor)
            if flags & 0x80:
                source.seek(3 << ((flags & 7) + 1), 1)
            source.read(1)  # LZW minimum code size
            yield Frame(left, top, width, height)
            _skip_sub_blocks(source)


def _skip_sub_blocks(source: BinaryIO) -> None:
    """Skip a chain of data sub-blocks (a length byte, then that many bytes; a zero length ends it)."""
    while (length := source.read(1)) and length[0]:
        source.seek(length[0], 1)


# --- PNG: IHDR, then an fcTL per frame of an APNG --------------------------------------------------------------


def _png(source: BinaryIO) -> tuple[str, tuple[int, int], Iterator[Frame]] | None:
    """IHDR's size and every fcTL's rectangle (one frame, the whole image, for a PNG without acTL)."""
    source.seek(8)
    chunks = _png_chunks(source)
    kind, body = next(chunks, (b"", b""))
    if kind != b"IHDR" or len(body) < 8:
        return None
    canvas = struct.unpack(">II", body[:8])
    return "PNG", canvas, _apng_frames(chunks, canvas)


def _apng_frames(chunks: Iterator[tuple[bytes, bytes]], canvas: tuple[int, int]) -> Iterator[Frame]:
    """The frames of an APNG; a PNG that has no acTL before its first IDAT is one frame, the whole canvas."""
    is_animated = False
    for kind, body in chunks:
        if kind == b"acTL":
            is_animated = True
        elif kind == b"fcTL" and is_animated and len(body) >= 20:
            width, height, left, top = struct.unpack(">IIII", body[4:20])
            yield Frame(left, top, width, height)
        elif kind == b"IDAT" and not is_animated:
            yield Frame(0, 0, *canvas)
            return


def _png_chunks(source: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    """(type, body) of each chunk until IEND; the bodies of pixel-data chunks are skipped (returned empty)."""
    while len(header := source.read(8)) == 8:
        length, kind = struct.unpack(">I4s", header)
        if kind in (b"IDAT", b"fdAT"):
            source.seek(length + 4, 1)
            yield kind, b""
            continue
        # The control chunks read whole are a few dozen bytes; a huge one is read no further than needed.
        body = source.read(min(length, 64))
        source.seek(length - len(body) + 4, 1)
        yield kind, body
        if kind == b"IEND":
            return


# --- WebP: the VP8X canvas, then an ANMF per frame; or a single VP8 / VP8L bitstream --------------------------


def _webp(source: BinaryIO) -> tuple[str, tuple[int, int], Iterator[Frame]] | None:
    """The canvas (VP8X, or the one bitstream's size) and every ANMF frame's rectangle."""
    source.seek(12)
    chunks = _riff_chunks(source)
    kind, body = next(chunks, (b"", b""))
    if kind == b"VP8X" and len(body) >= 10:
        canvas = (_u24(body, 4) + 1, _u24(body, 7) + 1)
        return "WebP", canvas, _webp_frames(chunks, canvas)
    canvas = _bitstream_size(kind, body)
    return ("WebP", canvas, iter([Frame(0, 0, *canvas)])) if canvas else None


def _webp_frames(chunks: Iterator[tuple[bytes, bytes]], canvas: tuple[int, int]) -> Iterator[Frame]:
    """Each ANMF frame's rectangle; a VP8X file without any is one frame, the whole canvas."""
    count = 0
    for kind, body in chunks:
        if kind == b"ANMF" and len(body) >= 12:
            count += 1
            yield Frame(2 * _u24(body, 0), 2 * _u24(body, 3), _u24(body, 6) + 1, _u24(body, 9) + 1)
    if not count:
        yield Frame(0, 0, *canvas)


def _bitstream_size(kind: bytes, body: bytes) -> tuple[int, int] | None:
    """A simple (lossy or lossless) WebP's size, from its bitstream header."""
    if kind == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        (bits,) = struct.unpack("<I", body[1:5])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _riff_chunks(source: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    """(FourCC, the first bytes of the body) of each RIFF chunk; bodies are padded to an even length."""
    while len(header := source.read(8)) == 8:
        kind, length = struct.unpack("<4sI", header)
        body = source.read(min(length, 32))
        source.seek(length - len(body) + (length & 1), 1)
        yield kind, body


def _u24(data: bytes, offset: int) -> int:
    """A 24-bit little-endian integer."""
    return int.from_bytes(data[offset : offset + 3], "little")
