"""Keys: where each file of an image is stored, and the one check every backend's key goes through."""

import hashlib
import re

# One segment of a key: letters, digits, '_', '-' and '.', never starting with a dot (no '.', '..', hidden files).
KEY_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
MAX_KEY_CHARS = 512
# 64 bits of SHA-256: two renderings of one variant of one image never share a key by accident.
VARIANT_DIGEST_CHARS = 16


def check_key(key: str) -> str:
    """The key itself if it is a plain relative name every backend stores as is; KeyError otherwise.

    Every backend's key goes through here, and so does every served key before it is judged public or private:
    a key with '.'/'..' segments, empty segments, a leading '/', backslashes, control or non-ASCII characters
    (encoded or not, they reach us decoded) would name something else on one backend than on another.
    """
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
        raise KeyError(key)
    if not all(KEY_SEGMENT.fullmatch(segment) for segment in key.split("/")):
        raise KeyError(key)
    return key


def check_prefix(prefix: str) -> str:
    """A key prefix for listing: empty, or a key (a trailing '/' allowed); KeyError otherwise."""
    if prefix:
        check_key(prefix.removesuffix("/"))
    return prefix


def original_key(image_id: str, extension: str) -> str:
    """The key of an image's original file."""
    return f"originals/{image_id}.{extension}"


def variant_key(image_id: str, name: str, extension: str, content: bytes) -> str:
    """The key of one rendering of a variant: its content's digest is in it, so a key never changes content."""
    # Served `immutable` for a year: a new rendering (reprocess, other settings) must get a new URL, and the
    # same bytes the same one. The image id stays the first segment after variants/ (audit and media read it).
    digest = hashlib.sha256(content).hexdigest()[:VARIANT_DIGEST_CHARS]
    return f"variants/{image_id}/{name}.{digest}.{extension}"


def upload_key(key: str) -> str:
    """The key a browser POSTs an original to (direct uploads): uploads/<id>.<ext> for originals/<id>.<ext>."""
    return "uploads/" + key.removeprefix("originals/")


def image_prefixes(image_id: str) -> tuple[str, ...]:
    """Every key prefix under which an image's files live (for an image whose original key is not recorded)."""
    return (f"originals/{image_id}.", f"variants/{image_id}/")
