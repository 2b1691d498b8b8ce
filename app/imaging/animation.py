"""Animated uploads (GIF, APNG, animated WebP) into animated WebP variants, one frame at a time.

Pillow's GIF and WebP readers composite each frame onto the canvas as they seek (GIF disposal, WebP blending), so
every frame they give is the whole picture as it is shown. Its APNG reader does not always (Pillow 13: a frame
blended "over" a previous one gets a blended alpha instead of the composite's, and "dispose to previous" after such
a frame restores the wrong picture), so APNG frames are read as they are stored and composited here, as the APNG
specification says. Each frame is then turned upright, into
sRGB, resized into every animated variant and handed to that variant's encoder before the next is read: memory
stays one canvas per variant plus the encoded output, whatever the frame count.

The encoder is libwebp's WebPAnimEncoder through Pillow's own binding (`PIL._webp`, pinned with Pillow), because
`Image.save(save_all=True)` wants every frame in memory at once, and we feed several variants from one decode.
"""

import struct
from collections.abc import Iterator

from PIL import Image, _webp
from PIL.PngImagePlugin import Blend, Disposal

from app.imaging.decode import UPRIGHT, box_reduce, fit, to_srgb
from app.imaging.formats import InputFormat

# WebPAnimEncoder's keyframe spacing for lossy frames, as Pillow (and gif2webp) choose it.
KEYFRAME_MIN, KEYFRAME_MAX = 3, 5
# Transparent black: every frame handed to the encoder covers the whole canvas anyway.
BACKGROUND = 0


def frame_count(image: Image.Image, kind: InputFormat) -> int:
    """How many frames of the upload make up its animation: 1 when it is a still (or its other frames are not)."""
    if not kind.is_animation or not getattr(image, "is_animated", False):
        return 1
    # An APNG's default image may stand outside the animation, for viewers that cannot play it.
    return image.n_frames - (1 if image.info.get("default_image") else 0)


def loop_count(image: Image.Image) -> int:
    """How often the animation plays (0: forever); a GIF without a NETSCAPE loop block plays once."""
    return int(image.info.get("loop", 1))


def frames(image: Image.Image, turn: int, largest: int) -> Iterator[tuple[Image.Image, int]]:
    """Each frame, composited, no larger than the largest variant needs, upright and in sRGB RGBa, with its duration.

    Memory: a whole canvas is reduced at once and dropped before the next frame is decoded, so what lives on beside
    the decoder's own canvases is one frame of the variants' size.
    """
    icc_profile = image.info.get("icc_profile")
    target = fit(*image.size, largest)
    composited = _apng_frames(image) if image.format == "PNG" else _pillow_frames(image)
    for canvas, duration in composited:
        frame = box_reduce(canvas, target)
        del canvas
        if icc_profile:
            frame = to_srgb(frame, icc_profile)
        if turn in UPRIGHT:
            frame = frame.transpose(UPRIGHT[turn])
        # Always a new picture: the APNG canvas handed over is painted on again for the next frame.
        yield frame.convert("RGBa"), duration


def _pillow_frames(image: Image.Image) -> Iterator[tuple[Image.Image, int]]:
    """Frames as Pillow's reader composites them, in RGBA, clipped to the first frame's canvas."""
    # Pillow's GIF reader grows its canvas for a later frame that reaches past it; browsers clip such a frame.
    size = image.size
    for index in range(image.n_frames):
        image.seek(index)
        image.load()
        yield (image if image.size == size else image.crop((0, 0, *size))).convert("RGBA"), _duration(image)


def _apng_frames(image: Image.Image) -> Iterator[tuple[Image.Image, int]]:
    """An APNG's frames, composited on a canvas of our own from each frame's region, blend op and dispose op."""
    canvas = Image.new("RGBA", image.size, (0, 0, 0, 0))
    disposal, region, saved = Disposal.OP_NONE, None, None
    first = 1 if image.info.get("default_image") else 0
    for index in range(first, image.n_frames):
        if disposal == Disposal.OP_BACKGROUND and region:
            canvas.paste((0, 0, 0, 0), region)
        elif disposal == Disposal.OP_PREVIOUS and saved is not None:
            canvas.paste(saved, region)
        image.seek(index)
        disposal, blend, region = image.info["disposal"], image.info["blend"], image.info["bbox"]
        # Pillow then decodes the frame's region as it is stored, without blending it itself.
        image.blend_op = Blend.OP_SOURCE
        image.load()
        stored = image.crop(region).convert("RGBA")
        saved = canvas.crop(region) if disposal == Disposal.OP_PREVIOUS else None
        if blend == Blend.OP_OVER:
            canvas.alpha_composite(stored, region[:2])
        else:
            canvas.paste(stored, region[:2])
        # Not a copy: frames() makes its own picture from it before asking for the next frame.
        yield canvas, _duration(image)


def _duration(image: Image.Image) -> int:
    """The current frame's duration in whole milliseconds."""
    return max(0, round(image.info.get("duration", 0) or 0))


class AnimatedWebP:
    """One animated WebP variant, encoded frame by frame as the frames arrive."""

    def __init__(self, size: tuple[int, int], loop: int, quality: int, method: int):
        self.size, self.quality, self.method = size, quality, method
        self.timestamp = 0
        self.frames = 0
        self._encoder = _webp.WebPAnimEncoder(size, BACKGROUND, loop, False, KEYFRAME_MIN, KEYFRAME_MAX, False, False)

    def add(self, frame: Image.Image, duration: int) -> None:
        """Append a frame of this variant's size (RGBA or RGB), shown for duration milliseconds."""
        self._encoder.add(frame.getim(), self.timestamp, False, self.quality, 100, self.method)
        self.timestamp += duration
        self.frames += 1

    def finish(self) -> bytes:
        """The encoded file (no ICC profile, EXIF or XMP)."""
        self._encoder.add(None, self.timestamp, False, self.quality, 100, 0)
        data = self._encoder.assemble(b"", b"", b"")
        if data is None:
            raise OSError("the WebP encoder returned nothing")
        return data


def webp_frame_count(data: bytes) -> int:
    """How many frames an encoded WebP holds (its ANMF chunks; 1 for a still), read from its RIFF chunks."""
    count, offset = 0, 12
    while offset + 8 <= len(data):
        kind, size = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        count += kind == b"ANMF"
        offset += 8 + size + (size & 1)
    return max(count, 1)
