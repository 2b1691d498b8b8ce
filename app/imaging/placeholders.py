"""Placeholders a page shows while a picture loads: its BlurHash, its average colour and a tiny blurred WebP.

All three come from a copy at most TINY_EDGE pixels long of the smallest variant, already in memory when the job
makes them, so they cost a few milliseconds whatever the upload's size.
"""

import base64
import io
from dataclasses import asdict, dataclass

import blurhash
from PIL import Image, ImageFilter

from app.imaging.decode import fit
from app.imaging.encode import flatten

TINY_EDGE = 32
TINY_BLUR_RADIUS = 1
TINY_QUALITY = 40


@dataclass(frozen=True)
class Placeholder:
    """What to show before the picture arrives."""

    blurhash: str
    color: str
    data_uri: str

    def as_dict(self) -> dict[str, str]:
        """The placeholder as the image resource shows it."""
        return asdict(self)


def make_placeholder(picture: Image.Image) -> Placeholder:
    """The placeholder of a picture (any mode the renderer holds: L, RGB, RGBa)."""
    size = fit(picture.width, picture.height, TINY_EDGE)
    tiny = picture.resize(size, Image.Resampling.BOX, reducing_gap=2.0) if picture.size != size else picture
    tiny = flatten(tiny) if tiny.mode in ("RGBa", "RGBA") else tiny.convert("RGB")
    red, green, blue = tiny.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    return Placeholder(_blurhash(tiny), f"#{red:02x}{green:02x}{blue:02x}", _data_uri(tiny))


def blurhash_components(width: int, height: int) -> tuple[int, int]:
    """4 x 3 components for landscape (and square) pictures, 3 x 4 for portrait ones."""
    return (3, 4) if height > width else (4, 3)


def _blurhash(tiny: Image.Image) -> str:
    """The BlurHash of an RGB picture."""
    width, height = tiny.size
    pixels = list(tiny.get_flattened_data())
    rows = [pixels[row * width : (row + 1) * width] for row in range(height)]
    return blurhash.encode(rows, *blurhash_components(width, height))


def _data_uri(tiny: Image.Image) -> str:
    """The picture blurred, as a small WebP data: URI (a few hundred bytes)."""
    buffer = io.BytesIO()
    tiny.filter(ImageFilter.GaussianBlur(TINY_BLUR_RADIUS)).save(buffer, "WEBP", quality=TINY_QUALITY, method=6)
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
