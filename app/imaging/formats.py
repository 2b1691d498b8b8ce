"""The one table of image formats: what uploads may be, what variants come out as, and every list derived from it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class InputFormat:
    """A kind of upload Pixline accepts, as people name it, as Pillow names it, and as its original is stored."""

    name: str
    content_type: str
    extension: str
    # Pillow's names for it: the first is the reader Image.open may use (and what sniffing reports), the others
    # what that reader may call the file it opened (its JPEG reader says MPO).
    pillow_formats: tuple[str, ...]
    # Whether several frames are an animation to keep, rather than other pictures (MPO's gain map, HEIF's bursts).
    is_animation: bool = False
    # Whether EXIF orientation is still to be applied after decoding. libheif applies HEIF's own irot/imir while
    # decoding (and pillow-heif resets EXIF orientation to 1), so applying EXIF too would rotate twice; Pillow's AVIF
    # reader does the opposite and reports irot/imir as EXIF orientation.
    exif_orientation: bool = True
    # The module that must be imported (and registered with Pillow) to read it; None for Pillow's own readers.
    plugin: str | None = None
    # The optional part of Pillow's own build it needs (PIL.features), if any.
    feature: str | None = None
    # What else browsers call such files, for the upload page's file picker.
    aliases: tuple[str, ...] = ()


INPUT_FORMATS: tuple[InputFormat, ...] = (
    # MPO: a JPEG with more pictures after the first (cameras' stereo pairs, Android's Ultra HDR gain maps).
    InputFormat("JPEG", "image/jpeg", "jpg", ("JPEG", "MPO")),
    # APNG is PNG to Pillow, with is_animated.
    InputFormat("PNG", "image/png", "png", ("PNG",), is_animation=True),
    InputFormat("WebP", "image/webp", "webp", ("WEBP",), is_animation=True),
    InputFormat("GIF", "image/gif", "gif", ("GIF",), is_animation=True),
    InputFormat(
        "HEIC",
        "image/heic",
        "heic",
        ("HEIF",),
        exif_orientation=False,
        plugin="pillow_heif",
        aliases=("image/heif", ".heic", ".heif"),
    ),
    InputFormat("AVIF", "image/avif", "avif", ("AVIF",), feature="avif", aliases=(".avif",)),
)
BY_PILLOW_FORMAT: dict[str, InputFormat] = {name: kind for kind in INPUT_FORMATS for name in kind.pillow_formats}


@dataclass(frozen=True)
class OutputFormat:
    """A format variants are encoded in."""

    pillow_format: str
    content_type: str
    extension: str
    can_animate: bool = False


# The only decoders Image.open may use: no upload reaches Pillow's rarer plugins (TIFF, PSD, EPS, ...).
ALLOWED_FORMATS: tuple[str, ...] = tuple(kind.pillow_formats[0] for kind in INPUT_FORMATS)
# Pillow format of an upload -> the MIME type and extension its original is stored with.
CONTENT_TYPES: dict[str, str] = {name: kind.content_type for name, kind in BY_PILLOW_FORMAT.items()}
EXTENSIONS: dict[str, str] = {name: kind.extension for name, kind in BY_PILLOW_FORMAT.items()}
# Output format as the API names it (OUTPUT_FORMAT) -> how variants are encoded and stored.
OUTPUT_FORMATS: dict[str, OutputFormat] = {
    "webp": OutputFormat("WEBP", "image/webp", "webp", can_animate=True),
    "jpeg": OutputFormat("JPEG", "image/jpeg", "jpg"),
    "png": OutputFormat("PNG", "image/png", "png"),
}
ACCEPTED_CONTENT_TYPES: tuple[str, ...] = tuple(dict.fromkeys(kind.content_type for kind in INPUT_FORMATS))
_ALIASES = [alias for kind in INPUT_FORMATS for alias in kind.aliases]
# Every MIME type browsers may give such files (the upload page's early check), and with the extensions too, the
# file input's `accept` (browsers that know no MIME type for .heic still offer the file).
BROWSER_TYPES: tuple[str, ...] = (*ACCEPTED_CONTENT_TYPES, *(alias for alias in _ALIASES if "/" in alias))
ACCEPT_ATTRIBUTE: str = ",".join((*BROWSER_TYPES, *(alias for alias in _ALIASES if alias.startswith("."))))

# Every Pillow mode an upload may decode to -> what decoding makes of it: L, RGB, RGBA, or L from 16 bits
# ("L16"). L and RGB become RGBA when the image has transparency data: a palette PNG or GIF with a transparent
# index, a tRNS colour. Any other mode (F, LAB, HSV: no allowed reader makes them) is refused with 415.
WORKING_MODES = {
    "1": "L",
    "L": "L",
    "I": "L16",
    "I;16": "L16",
    "I;16B": "L16",
    "I;16L": "L16",
    "LA": "RGBA",
    "PA": "RGBA",
    "RGBA": "RGBA",
    "RGBa": "RGBA",
    "P": "RGB",
    "RGB": "RGB",
    "RGBX": "RGB",
    "YCbCr": "RGB",
    "CMYK": "RGB",
}


def input_format(pillow_format: str | None) -> InputFormat:
    """The accepted format Pillow's name stands for (a KeyError only if the allow-list let another one through)."""
    return BY_PILLOW_FORMAT[pillow_format or ""]


def accepted_names(conjunction: str = "or") -> str:
    """The accepted formats as a sentence says them: 'JPEG, PNG, WebP, GIF, HEIC or AVIF'."""
    names = [kind.name for kind in INPUT_FORMATS]
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}" if len(names) > 1 else names[0]
