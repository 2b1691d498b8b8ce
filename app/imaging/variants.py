"""Variant specs: the named bounding boxes (IMAGE_VARIANTS) every image is rendered into."""

from dataclasses import dataclass

# WebP cannot encode an edge longer than this, so no variant may ask for more.
MAX_VARIANT_SIZE = 16383
VARIANT_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
# The variants.name column holds 40 characters.
MAX_VARIANT_NAME_CHARS = 40


@dataclass(frozen=True)
class VariantSpec:
    """A named variant that fits a max_size x max_size box."""

    name: str
    max_size: int


def parse_variant_specs(text: str) -> tuple[VariantSpec, ...]:
    """Parse 'thumb:160,small:480,medium:1024,large:2048'."""
    specs = tuple(_parse_variant_spec(entry.strip()) for entry in text.split(","))
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"variant names must be unique, got {', '.join(names)}")
    return specs


def _parse_variant_spec(entry: str) -> VariantSpec:
    """Parse one 'name:size' entry."""
    name, colon, size = entry.partition(":")
    name, size = name.strip(), size.strip()
    if not colon or not name or not size:
        raise ValueError(f"variant spec {entry!r} is not of the form name:size")
    if not set(name) <= VARIANT_NAME_CHARS:
        raise ValueError(f"variant name {name!r} may use only a-z, 0-9, '_' and '-'")
    if len(name) > MAX_VARIANT_NAME_CHARS:
        raise ValueError(f"variant name {name!r} is {len(name)} characters; at most {MAX_VARIANT_NAME_CHARS} fit")
    if not size.isdigit() or not 1 <= int(size) <= MAX_VARIANT_SIZE:
        raise ValueError(f"variant size {size!r} must be a whole number from 1 to {MAX_VARIANT_SIZE}")
    return VariantSpec(name, int(size))
