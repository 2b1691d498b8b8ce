"""Variant specs: the named boxes (IMAGE_VARIANTS) every image is rendered into, fitted or cover-cropped."""

from dataclasses import dataclass

# WebP cannot encode an edge longer than this, so no variant may ask for more.
MAX_VARIANT_SIZE = 16383
VARIANT_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
# The variants.name column holds 40 characters.
MAX_VARIANT_NAME_CHARS = 40
FIT, COVER = "fit", "cover"


@dataclass(frozen=True)
class VariantSpec:
    """A named variant: fits a max_size x max_size box, or (cover) fills exactly width x height, cropping the rest."""

    name: str
    max_size: int
    mode: str = FIT
    # The exact box of a cover crop (None for fit, whose box is max_size square).
    box: tuple[int, int] | None = None

    @property
    def is_cover(self) -> bool:
        """Whether the variant fills its box exactly, cropping what overflows."""
        return self.mode == COVER


def parse_variant_specs(text: str) -> tuple[VariantSpec, ...]:
    """Parse 'thumb:160,small:480,avatar:96x96:cover,medium:1024,large:2048'."""
    specs = tuple(_parse_variant_spec(entry.strip()) for entry in text.split(","))
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"variant names must be unique, got {', '.join(names)}")
    return specs


def _parse_variant_spec(entry: str) -> VariantSpec:
    """Parse one 'name:size' or 'name:WxH:cover' entry."""
    name, colon, rest = entry.partition(":")
    name, rest = name.strip(), rest.strip()
    if not colon or not name or not rest:
        raise ValueError(f"variant spec {entry!r} is not of the form name:size or name:WxH:cover")
    if not set(name) <= VARIANT_NAME_CHARS:
        raise ValueError(f"variant name {name!r} may use only a-z, 0-9, '_' and '-'")
    if len(name) > MAX_VARIANT_NAME_CHARS:
        raise ValueError(f"variant name {name!r} is {len(name)} characters; at most {MAX_VARIANT_NAME_CHARS} fit")
    size, colon, mode = (part.strip() for part in rest.partition(":"))
    if not colon:
        return VariantSpec(name, _edge(size))
    if mode != COVER:
        raise ValueError(f"variant spec {entry!r}: the only mode is 'cover' (name:WxH:cover)")
    width, cross, height = size.partition("x")
    if not cross:
        raise ValueError(f"variant spec {entry!r}: a cover crop needs a box WxH, e.g. avatar:96x96:cover")
    box = (_edge(width), _edge(height))
    return VariantSpec(name, max(box), COVER, box)


def _edge(text: str) -> int:
    """One edge of a box: a whole number of pixels WebP can encode."""
    text = text.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_VARIANT_SIZE:
        raise ValueError(f"variant size {text!r} must be a whole number from 1 to {MAX_VARIANT_SIZE}")
    return int(text)
