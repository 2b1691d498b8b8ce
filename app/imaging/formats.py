"""The one table of image formats: what uploads may be, what variants come out as, and every list derived from it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class InputFormat:
    """A kind of upload Pixline accepts, as people name it, as Pillow names it, and as it is stored."""

    name: str
    content_type: str
    extension: str
    # Pillow's format names for it: the first is the canonical one sniffing reports.
    pillow_formats: tuple[str, ...]


@dataclass(frozen=True)
class OutputFormat:
    """A format variants are encoded in."""

    pillow_format: str
    content_type: str
    extension: str


INPUT_FORMATS: tuple[InputFormat, ...] = (
    InputFormat("JPEG", "image/jpeg", "jpg", ("JPEG",)),
    InputFormat("PNG", "image/png", "png", ("PNG",)),
    InputFormat("WebP", "image/webp", "webp", ("WEBP",)),
    InputFormat("GIF", "image/gif", "gif", ("GIF",)),
)
BY_PILLOW_FORMAT: dict[str, InputFormat] = {name: kind for kind in INPUT_FORMATS for name in kind.pillow_formats}

# The only decoders Image.open may use: no upload reaches Pillow's rarer plugins (TIFF, PSD, EPS, ...).
ALLOWED_FORMATS: tuple[str, ...] = tuple(BY_PILLOW_FORMAT)
# Pillow format of an upload -> the MIME type and extension its original is stored with.
CONTENT_TYPES: dict[str, str] = {name: kind.content_type for name, kind in BY_PILLOW_FORMAT.items()}
EXTENSIONS: dict[str, str] = {name: kind.extension for name, kind in BY_PILLOW_FORMAT.items()}
# Output format as the API names it (OUTPUT_FORMAT) -> how variants are encoded and stored.
OUTPUT_FORMATS: dict[str, OutputFormat] = {
    "webp": OutputFormat("WEBP", "image/webp", "webp"),
    "jpeg": OutputFormat("JPEG", "image/jpeg", "jpg"),
    "png": OutputFormat("PNG", "image/png", "png"),
}
ACCEPTED_CONTENT_TYPES: tuple[str, ...] = tuple(dict.fromkeys(kind.content_type for kind in INPUT_FORMATS))


def accepted_names(conjunction: str = "or") -> str:
    """The accepted formats as a sentence says them: 'JPEG, PNG, WebP or GIF'."""
    names = [kind.name for kind in INPUT_FORMATS]
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}" if len(names) > 1 else names[0]
