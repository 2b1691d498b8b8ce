"""Small images made on the fly, and the shared photo corpus."""

import io
from pathlib import Path

from PIL import Image

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def encoded(width: int = 64, height: int = 48, fmt: str = "JPEG", mode: str = "RGB", color="red") -> bytes:
    """A solid image of the given size, encoded in fmt."""
    buffer = io.BytesIO()
    Image.new(mode, (width, height), color).save(buffer, fmt)
    return buffer.getvalue()


def corpus_photo(name: str) -> Path:
    """A photo from ../shared/corpus; fails loudly when the corpus is missing."""
    path = CORPUS / name
    assert path.is_file(), f"the test corpus is missing: {path}"
    return path
