"""Pure Pillow image handling: identify uploads from their header, decode once, render variants.

Imports nothing from the rest of `app` (tests/unit/test_imaging_imports.py checks), so it is tested with plain
in-memory images.
"""

from app.imaging.crop import GRAVITIES
from app.imaging.encode import AVIF_QUALITY, AVIF_SPEED, EncodedFile, webp_method
from app.imaging.errors import (
    InvalidImage,
    PixlineError,
    TooLargeToProcess,
    TooManyFrames,
    TooManyPixels,
    UnsupportedType,
)
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
    parse_output_formats,
)
from app.imaging.placeholders import Placeholder
from app.imaging.plugins import preload
from app.imaging.render import MAX_ANIMATION_PIXELS, Rendered, RenderedVariant, render_variants
from app.imaging.sniff import Header, sniff
from app.imaging.variants import COVER, FIT, MAX_VARIANT_SIZE, VARIANT_NAME_CHARS, VariantSpec, parse_variant_specs

__all__ = [
    "ACCEPT_ATTRIBUTE",
    "AVIF_QUALITY",
    "AVIF_SPEED",
    "GRAVITIES",
    "EncodedFile",
    "Placeholder",
    "parse_output_formats",
    "ACCEPTED_CONTENT_TYPES",
    "ALLOWED_FORMATS",
    "BROWSER_TYPES",
    "CONTENT_TYPES",
    "COVER",
    "FIT",
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
    "TooLargeToProcess",
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
