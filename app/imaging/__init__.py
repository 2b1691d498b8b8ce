"""Pure Pillow image handling: identify uploads from their header, decode once, render variants.

Imports nothing from the rest of `app` (tests/unit/test_imaging_imports.py checks), so it is tested with plain
in-memory images.
"""

from app.imaging.errors import InvalidImage, PixlineError, TooManyFrames, TooManyPixels, UnsupportedType
from app.imaging.formats import (
    ACCEPT_ATTRIBUTE,
    ACCEPTED_CONTENT_TYPES,
    ALLOWED_FORMATS,
    BROWSER_TYPES,
    CONTENT_TYPES,
    EXTENSIONS,
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    accepted_names,
)
from app.imaging.plugins import preload
from app.imaging.render import MAX_ANIMATION_PIXELS, Rendered, RenderedVariant, render_variants, webp_method
from app.imaging.sniff import Header, sniff
from app.imaging.variants import MAX_VARIANT_SIZE, VARIANT_NAME_CHARS, VariantSpec, parse_variant_specs

__all__ = [
    "ACCEPT_ATTRIBUTE",
    "ACCEPTED_CONTENT_TYPES",
    "ALLOWED_FORMATS",
    "BROWSER_TYPES",
    "CONTENT_TYPES",
    "EXTENSIONS",
    "INPUT_FORMATS",
    "MAX_ANIMATION_PIXELS",
    "MAX_VARIANT_SIZE",
    "OUTPUT_FORMATS",
    "VARIANT_NAME_CHARS",
    "Header",
    "InvalidImage",
    "PixlineError",
    "Rendered",
    "RenderedVariant",
    "TooManyFrames",
    "TooManyPixels",
    "UnsupportedType",
    "VariantSpec",
    "accepted_names",
    "parse_variant_specs",
    "preload",
    "render_variants",
    "sniff",
    "webp_method",
]
